import { execFile } from "node:child_process";
import type { GpuInfo } from "@mllead/contracts";

/** What the host has: GPUs (empty on a CPU-only host) and, when there are none, why. */
export interface Inventory {
  gpus: GpuInfo[];
  /** Set when nvidia-smi is missing or failed: the host runs jobs on CPU slots. */
  cpuOnlyReason?: string;
}

/** The port the runner reads its hardware through; tests swap in a fake. */
export interface InventoryPort {
  read(): Promise<Inventory>;
}

/** The query the runner sends to nvidia-smi. */
export const NVIDIA_SMI_ARGS = [
  "--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu",
  "--format=csv,noheader,nounits",
] as const;

function num(s: string): number | null {
  const n = Number(s.trim());
  // nvidia-smi prints "[N/A]" or "[Not Supported]" where a value is unknown.
  return s.trim() === "" || !Number.isFinite(n) ? null : n;
}

/**
 * Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu
 * --format=csv,noheader,nounits` output. Lines that do not fit are skipped; a name
 * holding a comma is kept whole.
 */
export function parseNvidiaSmiCsv(text: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const parts = raw.split(",").map((p) => p.trim());
    if (parts.length < 6) continue;
    const [indexText, uuid] = parts as [string, string];
    const tail = parts.slice(-3) as [string, string, string];
    const name = parts.slice(2, -3).join(", ");
    const index = Number(indexText);
    if (!Number.isInteger(index) || index < 0 || !uuid) continue;
    out.push({
      index,
      uuid,
      name,
      memoryTotalMiB: num(tail[0]),
      memoryUsedMiB: num(tail[1]),
      utilizationPct: num(tail[2]),
    });
  }
  return out;
}

/**
 * Reads the inventory by running nvidia-smi (no shell, 10 s timeout). A missing or
 * failing binary is not an error: it means a CPU-only host, and the reason says why.
 */
export function nvidiaSmiInventory(opts: { bin: string; timeoutMs?: number }): InventoryPort {
  return {
    read: () =>
      new Promise<Inventory>((resolve) => {
        execFile(
          opts.bin,
          [...NVIDIA_SMI_ARGS],
          { timeout: opts.timeoutMs ?? 10_000, maxBuffer: 1024 * 1024, windowsHide: true },
          (err, stdout, stderr) => {
            if (err) {
              const code = (err as NodeJS.ErrnoException).code;
              const reason =
                code === "ENOENT"
                  ? `${opts.bin} not found`
                  : `${opts.bin} failed (${String(code ?? err.message)}): ${String(stderr || stdout)
                      .trim()
                      .slice(0, 300)}`;
              resolve({ gpus: [], cpuOnlyReason: reason });
              return;
            }
            const gpus = parseNvidiaSmiCsv(String(stdout));
            resolve(gpus.length > 0 ? { gpus } : { gpus, cpuOnlyReason: `${opts.bin} lists no GPUs` });
          },
        );
      }),
  };
}

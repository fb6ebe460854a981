import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Bus } from "@mllead/bus";
import { BUCKETS, RunnerBeat, type ScoutDataFile, type ScoutReport } from "@mllead/contracts";

/** Files listed per data folder, and how deep the walk goes below it. */
export const DATA_LIMITS = { files: 60, depth: 3, headLines: 5, headBytes: 4096, lineChars: 240, tablesWithHead: 8 } as const;
/** Tables whose first lines the scout shows; other tables (.parquet, .feather, …) by name and size only. */
const TEXT_TABLE = /\.(csv|tsv)$/i;

/** The first lines of a text table, each cut to `lineChars`; never more than `headBytes` are read. */
async function headOf(path: string): Promise<string[]> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(DATA_LIMITS.headBytes);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const lines = buf.subarray(0, bytesRead).toString("utf8").split(/\r?\n/);
    // The last piece may be a line cut by the read; keep it only when the file ended there.
    const whole = bytesRead < buf.length ? lines : lines.slice(0, -1);
    return whole
      .filter((l) => l.length > 0)
      .slice(0, DATA_LIMITS.headLines)
      .map((l) => (l.length > DATA_LIMITS.lineChars ? `${l.slice(0, DATA_LIMITS.lineChars)}…` : l));
  } finally {
    await fh.close();
  }
}

/**
 * One data folder (MLLEAD_DATA_DIRS, the operator's): its files with sizes, walked breadth-first to a depth
 * and a count, without following symbolic links; hidden entries are skipped. The first lines of the first
 * few text tables are read (at most a few KiB each). A folder that is missing or unreadable says so.
 */
export async function readDataDir(dir: string): Promise<ScoutReport["dataDirs"][number]> {
  const top = await stat(dir).catch(() => null);
  if (!top?.isDirectory()) return { path: dir.slice(0, 500), files: [], truncated: false, missing: true };
  const files: ScoutDataFile[] = [];
  let truncated = false;
  let heads = 0;
  let level: string[] = [""];
  for (let depth = 0; depth < DATA_LIMITS.depth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const rel of level) {
      const names = (await readdir(join(dir, rel), { withFileTypes: true }).catch(() => [])).sort((a, b) =>
        a.name.localeCompare(b.name),
      );
      for (const d of names) {
        if (d.name.startsWith(".")) continue;
        const path = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) next.push(path);
        if (!d.isFile()) continue;
        if (files.length >= DATA_LIMITS.files) {
          truncated = true;
          continue;
        }
        const st = await stat(join(dir, path)).catch(() => null);
        if (!st?.isFile()) continue;
        const withHead = TEXT_TABLE.test(d.name) && heads < DATA_LIMITS.tablesWithHead;
        if (withHead) heads++;
        const head = withHead ? await headOf(join(dir, path)).catch(() => undefined) : undefined;
        files.push({ path: path.slice(0, 500), bytes: st.size, ...(head?.length ? { head } : {}) });
      }
    }
    level = next;
  }
  if (level.length > 0) truncated = true;
  return { path: dir.slice(0, 500), files, truncated, missing: false };
}

/** The GPU runners beating now, from their heartbeats in `mllead_runners` (none before any runner started). */
export async function readRunners(bus: Bus): Promise<ScoutReport["runners"]> {
  const kv = await bus.kvIfExists(BUCKETS.runners, RunnerBeat);
  if (!kv) return [];
  const out: ScoutReport["runners"] = [];
  for (const key of (await kv.keys()).slice(0, 50)) {
    const beat = (await kv.get(key))?.value;
    if (!beat) continue;
    out.push({
      host: beat.host.slice(0, 200),
      cpuSlots: Math.max(0, Math.trunc(beat.cpuSlots)),
      gpus: beat.gpus.slice(0, 64).map((g) => ({ name: g.name.slice(0, 200), memoryMiB: g.memoryTotalMiB })),
    });
  }
  return out.sort((a, b) => a.host.localeCompare(b.host));
}

import type { Dirent } from "node:fs";
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Bus } from "@mllead/bus";
import { BUCKETS, RunnerHeartbeat, type ScoutDataFile, type ScoutReport } from "@mllead/contracts";
import { isAbsent, statIfExists } from "./fs-absent.js";

/** Files listed per data folder, and how deep the walk goes below it. */
export const DATA_LIMITS = { files: 60, depth: 3, headLines: 5, headBytes: 4096, lineChars: 240, tablesWithHead: 8 } as const;
/** Tables whose first lines the scout shows; other tables (.parquet, .feather, …) by name and size only. */
const TEXT_TABLE = /\.(csv|tsv)$/i;

/** A folder's entries; none when it is gone or may not be read (the operator's folder: skipped, not an error). */
async function listDir(path: string): Promise<Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (err) {
    if (unreadable(err)) return [];
    throw err;
  }
}

/** Gone since it was listed, or not ours to read: the entry is shown without what could not be read. */
function unreadable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return isAbsent(err) || code === "EACCES" || code === "EPERM";
}

/** The first lines of a text table, each cut to `lineChars`; never more than `headBytes` are read; none when unreadable. */
async function headOf(path: string): Promise<string[]> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (unreadable(err)) return [];
    throw err;
  }
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
  const top = await statIfExists(dir);
  if (!top?.isDirectory()) return { path: dir.slice(0, 500), files: [], truncated: false, missing: true };
  const files: ScoutDataFile[] = [];
  let truncated = false;
  let heads = 0;
  let level: string[] = [""];
  for (let depth = 0; depth < DATA_LIMITS.depth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const rel of level) {
      const names = (await listDir(join(dir, rel))).sort((a, b) => a.name.localeCompare(b.name));
      for (const d of names) {
        if (d.name.startsWith(".")) continue;
        const path = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) next.push(path);
        if (!d.isFile()) continue;
        if (files.length >= DATA_LIMITS.files) {
          truncated = true;
          continue;
        }
        const st = await statIfExists(join(dir, path));
        if (!st?.isFile()) continue;
        const withHead = TEXT_TABLE.test(d.name) && heads < DATA_LIMITS.tablesWithHead;
        if (withHead) heads++;
        const head = withHead ? await headOf(join(dir, path)) : undefined;
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
  const kv = await bus.kvIfExists(BUCKETS.runners, RunnerHeartbeat);
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

import type { BigIntStats } from "node:fs";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ConflictError } from "@mllead/bus";
import { ConfinedFs, ConfinedFsError } from "@mllead/sandbox";
import { bestEffort } from "@mllead/service-kit";
import type { TaskFileEntry } from "./branch-store.js";
import { GitBusyError, isRetryable, TaskFilesError } from "./errors.js";
import { ignoredPaths } from "./ignored-files.js";
import type { TaskFilesLimits } from "./settings.js";
import type { BranchSync, StepKey } from "./task-branch-sync.js";
import { type Baseline, hashing, readBaseline, taskFileObject } from "./task-files.js";
import { openScanned, type SkippedFile, sameFile, scanFiles } from "./task-files-scan.js";
import type { TaskWorktree } from "./task-worktree.js";
import type { UncommittedFile } from "./worktree-snapshot.js";

/** Defaults of MLLEAD_TASK_FILES_MAX_MB and MLLEAD_TASK_FILES_MAX_FILE_MB. */
export const DEFAULT_TASK_FILES: TaskFilesLimits = { maxBytes: 1024 * 1024 * 1024, maxFileBytes: 512 * 1024 * 1024 };
/** Most characters the record's file index may take (a KV value is at most the server's 1 MiB payload). */
const MAX_INDEX_CHARS = 256 * 1024;
/** Times the record is read again when another replica changed it first. */
const CAS_TRIES = 20;

/** A file left behind; `size` when a limit left it. */
interface LeftFile extends SkippedFile {
  size?: string;
}

/** What a step changed of the task's carried files. */
interface FileChanges {
  /** New or changed files, uploaded: path → entry. */
  put: Map<string, TaskFileEntry>;
  /** Paths of the baseline that are gone (deleted, committed, or no longer a carried file). */
  deleted: string[];
  /** Files left behind, with why. */
  left: LeftFile[];
}

const human = (bytes: number) =>
  bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : `${Math.max(1, Math.round(bytes / 1024 ** 2))} MB`;

async function hashOf(fs: ConfinedFs, path: string, st: BigIntStats, max: number): Promise<{ sha256: string; bytes: number }> {
  const fh = await openScanned(fs, path, st);
  const hash = hashing(max);
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  await pipeline(fh.createReadStream(), hash, sink);
  return hash.digest();
}

/** Uploads one file by content (`<stepId>-<attempt>/<sha256>`), once; a file that changed while read is refused. */
async function upload(sync: BranchSync, fs: ConfinedFs, path: string, st: BigIntStats, entry: TaskFileEntry): Promise<void> {
  const name = taskFileObject(sync.taskId, entry);
  if ((await sync.store.objectSize(name)) === entry.bytes) return;
  const fh = await openScanned(fs, path, st);
  const hash = hashing(entry.bytes);
  const src = fh.createReadStream();
  src.on("error", (err) => hash.destroy(err));
  const body = Readable.toWeb(src.pipe(hash)) as unknown as ReadableStream<Uint8Array>;
  await sync.store.uploadStream(name, body);
  const got = hash.digest();
  if (got.sha256 !== entry.sha256) {
    await bestEffort("delete a task file that changed while read", sync.log, () => sync.store.remove(name));
    throw new TaskFilesError(`${path} changed while it was read`);
  }
}

/** Compares the worktree's uncommitted files with its baseline and uploads what is new or changed. */
async function collect(
  sync: BranchSync,
  wt: TaskWorktree,
  step: StepKey,
  baseline: Baseline,
  extra: readonly string[],
): Promise<FileChanges> {
  const limits = sync.files ?? DEFAULT_TASK_FILES;
  const scan = await scanFiles(wt.root, [...(await ignoredPaths(wt)), ...extra]);
  const changes: FileChanges = { put: new Map(), deleted: [], left: [...scan.skipped] };
  const fs = new ConfinedFs(wt.root);
  let total = 0;
  const changed: Array<[string, BigIntStats]> = [];
  for (const [path, st] of scan.files) {
    const was = baseline.files[path];
    const same =
      was && sameFile({ dev: BigInt(was.dev), ino: BigInt(was.ino), size: BigInt(was.bytes), ctimeNs: BigInt(was.ctimeNs) }, st);
    if (same) total += was.bytes;
    else changed.push([path, st]);
  }
  for (const [path, st] of changed) {
    const was = baseline.files[path];
    const size = Number(st.size);
    const over =
      size > limits.maxFileBytes
        ? "MLLEAD_TASK_FILES_MAX_FILE_MB"
        : total + size > limits.maxBytes
          ? "MLLEAD_TASK_FILES_MAX_MB"
          : undefined;
    if (over) {
      changes.left.push({ path, why: `over ${over}`, size: human(size) });
      continue;
    }
    try {
      const { sha256, bytes } = await hashOf(fs, path, st, limits.maxFileBytes);
      total += bytes;
      // Touched but the same bytes: it stays as it was.
      if (was?.sha256 === sha256) continue;
      const entry = { step: `${step.stepId}-${step.attempt}`, sha256, bytes };
      await upload(sync, fs, path, st, entry);
      changes.put.set(path, entry);
    } catch (err) {
      if (isRetryable(err) || !(err instanceof TaskFilesError || err instanceof ConfinedFsError || isFsError(err))) throw err;
      sync.log.warn({ err, path }, "a task's file could not be carried");
      changes.left.push({ path, why: err.message.slice(0, 200) });
    }
  }
  // A baseline file that is gone, committed now, or left behind: the next steps must not get its old bytes.
  const leftPaths = new Set(changes.left.map((l) => l.path));
  for (const path of Object.keys(baseline.files)) {
    if (!changes.put.has(path) && (!scan.files.has(path) || leftPaths.has(path))) changes.deleted.push(path);
  }
  return changes;
}

const isFsError = (err: unknown): err is Error =>
  err instanceof Error &&
  typeof (err as NodeJS.ErrnoException).code === "string" &&
  /^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code ?? "");

/**
 * Records the step's changes in the task's branch record (compare-and-swap; a later join wins on the same
 * path) and deletes the objects no path names any more. Returns the paths the index had no room for.
 */
async function record(sync: BranchSync, changes: FileChanges): Promise<string[]> {
  for (let i = 0; i < CAS_TRIES; i++) {
    const cur = await sync.store.read(sync.taskId);
    if (!cur) throw new TaskFilesError(`task ${sync.taskId} has no branch record to carry its files in`);
    const before = cur.value.files ?? {};
    const files = { ...before };
    for (const path of changes.deleted) delete files[path];
    const noRoom: string[] = [];
    const pairChars = (path: string, e: TaskFileEntry | undefined) => (e ? JSON.stringify({ [path]: e }).length : 0);
    let chars = JSON.stringify(files).length;
    for (const [path, entry] of changes.put) {
      const next = chars - pairChars(path, files[path]) + pairChars(path, entry);
      if (next > MAX_INDEX_CHARS) {
        // Not its old bytes either: the step changed it.
        noRoom.push(path);
        chars -= pairChars(path, files[path]);
        delete files[path];
      } else {
        files[path] = entry;
        chars = next;
      }
    }
    const value = { ...cur.value, files, updatedAt: new Date().toISOString() };
    try {
      await sync.store.advance(sync.taskId, value, cur.revision);
    } catch (err) {
      if (err instanceof ConflictError) continue;
      throw err;
    }
    const named = new Set(Object.values(files).map((e) => taskFileObject(sync.taskId, e)));
    const unused = new Set(
      [...Object.values(before), ...changes.put.values()].map((e) => taskFileObject(sync.taskId, e)).filter((n) => !named.has(n)),
    );
    for (const name of unused) await bestEffort("delete a replaced task file", sync.log, () => sync.store.remove(name));
    return noRoom;
  }
  throw new GitBusyError(`the branch record of task ${sync.taskId} kept changing under ${CAS_TRIES} tries to record its files`);
}

/** The result's lines for what stayed behind. */
function leftWarnings(left: readonly LeftFile[], notLaid: readonly string[]): string[] {
  const list = (items: string[]) => `${items.slice(0, 6).join(", ")}${items.length > 6 ? ` and ${items.length - 6} more` : ""}`;
  const out: string[] = [];
  const big = left.filter((l) => l.size).map((l) => `${l.path} (${l.size}) — ${l.why}`);
  if (big.length)
    out.push(`not carried to the next steps: ${list(big)}; write such data to a shared data dir (MLLEAD_DATA_DIRS)`);
  const other = left.filter((l) => !l.size).map((l) => `${l.path} (${l.why})`);
  if (other.length) out.push(`not carried to the next steps (only regular files travel): ${list(other)}`);
  if (notLaid.length) out.push(`files of earlier steps not laid out here: ${list([...notLaid])}`);
  return out;
}

/**
 * Carries what a step left uncommitted — files `.gitignore` ignores (data, models, features, splits) and
 * changed files the commit left out as too large — to the task's next steps on any replica: compared with
 * the step's baseline (what was laid out when it started), new and changed regular files are uploaded by
 * content and recorded in the task's branch record with the paths the step deleted; links, FIFOs, devices
 * and files over the limits stay behind, and the returned warnings (for the step's result) say so. Runs
 * before the step's worktree is removed. NATS failures are retryable; a file that cannot be read is a warning.
 */
export async function carryTaskFiles(
  sync: BranchSync,
  wt: TaskWorktree,
  step: StepKey,
  uncommitted: readonly UncommittedFile[],
): Promise<string[]> {
  // MLLEAD_TASK_FILES_MAX_MB=0: nothing travels, and no step's result says so each time.
  if ((sync.files ?? DEFAULT_TASK_FILES).maxBytes === 0) return [];
  const baseline = (await readBaseline(wt)) ?? { v: 1, files: {}, notLaid: [] };
  const extra = uncommitted.filter((u) => u.reason === "too_large").map((u) => u.path);
  const changes = await collect(sync, wt, step, baseline, extra);
  if (changes.put.size > 0 || changes.deleted.length > 0) {
    const noRoom = await record(sync, changes);
    for (const path of noRoom) changes.left.push({ path, why: "the task carries too many files already" });
    sync.log.info(
      { carried: changes.put.size - noRoom.length, deleted: changes.deleted.length, left: changes.left.length },
      "the step's uncommitted files recorded for the task's next steps",
    );
  }
  return leftWarnings(changes.left, baseline.notLaid);
}

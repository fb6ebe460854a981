import { createHash } from "node:crypto";
import { lstat, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { OBJECT_KEYS } from "@mllead/contracts";
import { ConfinedFs, ConfinedFsError } from "@mllead/sandbox";
import { z } from "zod";
import type { TaskBranchRecord, TaskFileEntry } from "./branch-store.js";
import { infra, isRetryable, TaskFilesError } from "./errors.js";
import { isAbsent, lstatIfExists } from "./fs-absent.js";
import type { BranchSync } from "./task-branch-sync.js";
import { taskFilePathProblem } from "./task-files-scan.js";
import type { TaskWorktree } from "./task-worktree.js";

/** A carried file as a step's worktree got it: its record entry and the inode it was written as. */
const LaidFile = z.object({
  step: z.string(),
  sha256: z.string(),
  bytes: z.number(),
  dev: z.string(),
  ino: z.string(),
  ctimeNs: z.string(),
});
export type LaidFile = z.infer<typeof LaidFile>;

/**
 * What a step's worktree started with, kept in its git dir (the service's, read-only to the step): the files
 * laid out by path, and the lines saying what could not be. Its presence means the layout is done, so a step
 * redelivered to this replica keeps its worktree as it left it.
 */
const Baseline = z.object({ v: z.literal(1), files: z.record(z.string(), LaidFile), notLaid: z.array(z.string()) });
export type Baseline = z.infer<typeof Baseline>;

const baselinePath = (wt: TaskWorktree) => join(wt.gitDir, "mllead-task-files.json");

/** The object of a carried file. */
export function taskFileObject(taskId: string, entry: Pick<TaskFileEntry, "step" | "sha256">): string {
  return OBJECT_KEYS.taskFile(taskId, entry.step, entry.sha256);
}

/** The worktree's baseline, or null when nothing was laid out in it (a worktree made before this existed). */
export async function readBaseline(wt: TaskWorktree): Promise<Baseline | null> {
  const text = await readFile(baselinePath(wt), "utf8").catch((err: unknown) => {
    if (isAbsent(err)) return null;
    throw err;
  });
  return text === null ? null : Baseline.parse(JSON.parse(text));
}

async function writeBaseline(wt: TaskWorktree, baseline: Baseline): Promise<void> {
  const file = baselinePath(wt);
  await writeFile(`${file}.tmp`, JSON.stringify(baseline));
  await rename(`${file}.tmp`, file);
}

/** A transform that hashes (SHA-256) and counts what passes, refusing more than `maxBytes`. */
export function hashing(maxBytes: number): Transform & { digest: () => { sha256: string; bytes: number } } {
  const h = createHash("sha256");
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) return done(new TaskFilesError(`more than ${maxBytes} bytes`));
      h.update(chunk);
      done(null, chunk);
    },
  });
  return Object.assign(t, { digest: () => ({ sha256: h.digest("hex"), bytes }) });
}

/** Why nothing may be written at `path` of the fresh worktree: a link, a file where a directory goes, or a directory. */
async function inTheWay(root: string, path: string): Promise<string | undefined> {
  const parts = path.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const st = await lstatIfExists(join(root, ...parts.slice(0, i)));
    if (!st) return undefined;
    if (st.isSymbolicLink()) return "a symbolic link is in the way";
    if (i < parts.length && !st.isDirectory()) return "a file is where its directory goes";
    if (i === parts.length && !st.isFile()) return "something other than a file is there";
  }
  return undefined;
}

/** Downloads one carried file into the worktree (through `ConfinedFs`: a temporary file renamed into place). */
async function layOne(sync: BranchSync, fs: ConfinedFs, path: string, entry: TaskFileEntry): Promise<"ok" | "gone"> {
  const obj = await sync.store.openObject(taskFileObject(sync.taskId, entry));
  if (!obj) return "gone";
  const hash = hashing(entry.bytes);
  await fs.replaceFile(path, async (handle) => {
    // A stream cut by NATS (a timeout while the stream's leader is elected) is retried with the step, not its failure.
    await infra("downloading a task's file", async () => {
      await pipeline(Readable.fromWeb(obj.data as unknown as WebReadableStream<Uint8Array>), hash, handle.createWriteStream());
      const err = await obj.error;
      if (err) throw err;
    });
    const got = hash.digest();
    if (got.sha256 !== entry.sha256 || got.bytes !== entry.bytes)
      throw new TaskFilesError(`${path} came down as ${got.bytes} bytes that do not match its record`);
  });
  return "ok";
}

/**
 * Lays the task's carried files (the record's `files`: ignored data, models, features of earlier steps) out
 * in a step's fresh worktree, once: a worktree that already has its baseline is left as it is. Each file is
 * written through `ConfinedFs` (never through a link, never outside the worktree), and only where no link,
 * directory or other non-file is in the way; its bytes are checked against the record. A file whose object
 * a newer step replaced meanwhile is taken from the record as it is now. What could not be laid out is named
 * in the baseline, and the step's result says so.
 */
export async function layOutTaskFiles(sync: BranchSync, wt: TaskWorktree, record: TaskBranchRecord): Promise<Baseline> {
  const existing = await readBaseline(wt);
  if (existing) return existing;
  const baseline: Baseline = { v: 1, files: {}, notLaid: [] };
  const fs = new ConfinedFs(wt.root, {
    onCleanupError: (err, what) => sync.log.warn({ err }, `${what} failed while laying out the task's files`),
  });
  let current = record.files ?? {};
  for (const path of Object.keys(current).sort()) {
    const why = taskFilePathProblem(path) ?? (await inTheWay(wt.root, path));
    if (why) {
      baseline.notLaid.push(`${path} (${why})`);
      continue;
    }
    try {
      let entry = current[path];
      if (entry && (await layOne(sync, fs, path, entry)) === "gone") {
        // A newer step replaced it (and its object) since the record was read: take the record as it is now.
        current = (await sync.store.read(sync.taskId))?.value.files ?? {};
        entry = current[path];
        if (entry && (await layOne(sync, fs, path, entry)) === "gone") throw new TaskFilesError("its object is gone");
      }
      if (!entry) continue;
      const st = await lstat(join(wt.root, path), { bigint: true });
      baseline.files[path] = { ...entry, dev: String(st.dev), ino: String(st.ino), ctimeNs: String(st.ctimeNs) };
    } catch (err) {
      if (isRetryable(err)) throw err;
      if (!(err instanceof TaskFilesError || err instanceof ConfinedFsError)) throw err;
      sync.log.warn({ err, path }, "a task's file could not be laid out");
      baseline.notLaid.push(`${path} (${err.message.slice(0, 200)})`);
    }
  }
  await writeBaseline(wt, baseline);
  const laid = Object.keys(baseline.files).length;
  if (laid > 0 || baseline.notLaid.length > 0)
    sync.log.info({ laid, notLaid: baseline.notLaid.length }, "the task's uncommitted files laid out");
  return baseline;
}

import type { BigIntStats } from "node:fs";
import { type FileHandle, lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { type ConfinedFs, isConfinedTempName } from "@mllead/sandbox";
import { TaskFilesError } from "./errors.js";
import { lstatIfExists } from "./fs-absent.js";

/**
 * Directories whose files never travel between steps: git's own, and caches and environments a step
 * regenerates (they would crowd out the data a team means).
 */
const NEVER_DIRS = new Set([
  ".git",
  "__pycache__",
  ".pytest_cache",
  ".mypy_cache",
  ".ruff_cache",
  ".ipynb_checkpoints",
  "node_modules",
  ".venv",
  "venv",
  ".tox",
  ".nox",
]);

/** Most paths one scan looks at (files, links, directories): a step's worktree is model-written. */
const MAX_SCANNED = 100_000;
/** Deepest directory a scan enters, below the worktree. */
const MAX_DEPTH = 64;
/** Longest path carried (characters). */
export const MAX_TASK_FILE_PATH = 1024;

/** A path left out of a scan, with why (shown in the step's result). */
export interface SkippedFile {
  path: string;
  why: string;
}

/** The regular files a scan found (by lstat, never through a link), and what it left out. */
export interface ScannedFiles {
  files: Map<string, BigIntStats>;
  skipped: SkippedFile[];
}

/**
 * Why `path` may not be carried or laid out, or undefined when it may: relative, plain components (no
 * empty, `.` or `..`), no `.git` or cache directory, UTF-8 that Node names faithfully, at most 1024 characters.
 */
export function taskFilePathProblem(path: string): string | undefined {
  if (path.length === 0 || path.length > MAX_TASK_FILE_PATH) return "a path too long";
  if (path.includes("\0") || path.includes("\uFFFD")) return "a name that is not UTF-8";
  const parts = path.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) return "not a plain relative path";
  if (parts.some((p) => NEVER_DIRS.has(p))) return "in git's or a cache's directory";
  return undefined;
}

/** True when the two stats are the same unchanged inode: same device, inode, size and change time (ns). */
export function sameFile(a: Pick<BigIntStats, "dev" | "ino" | "size" | "ctimeNs">, b: typeof a): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.ctimeNs === b.ctimeNs;
}

/**
 * The regular files of the worktree `root` at `paths` (git's listing: a file, or a wholly ignored directory
 * as `dir/`, walked here). Nothing is followed: a path under a link or a non-directory is left out, a link,
 * FIFO, socket or device is left out and named, and so is a file with other hard links (it could be a file
 * from outside). Temporary files of the file tools and `NEVER_DIRS` are passed over silently.
 */
export async function scanFiles(root: string, paths: Iterable<string>): Promise<ScannedFiles> {
  const files = new Map<string, BigIntStats>();
  const skipped: SkippedFile[] = [];
  let scanned = 0;
  const realDirs = new Map<string, boolean>();
  const underRealDirs = async (rel: string): Promise<boolean> => {
    const parts = rel.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      let ok = realDirs.get(dir);
      if (ok === undefined) {
        ok = (await lstatIfExists(join(root, dir)))?.isDirectory() === true;
        realDirs.set(dir, ok);
      }
      if (!ok) return false;
    }
    return true;
  };
  const visit = async (rel: string, depth: number): Promise<void> => {
    if (++scanned > MAX_SCANNED) return;
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    if (isConfinedTempName(name) || NEVER_DIRS.has(name)) return;
    const problem = taskFilePathProblem(rel);
    if (problem) {
      skipped.push({ path: rel, why: problem });
      return;
    }
    const st = await lstat(join(root, rel), { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
      throw err;
    });
    if (!st) return;
    if (st.isDirectory()) {
      if (depth >= MAX_DEPTH) skipped.push({ path: `${rel}/`, why: `deeper than ${MAX_DEPTH} directories` });
      else for (const child of (await readdir(join(root, rel))).sort()) await visit(`${rel}/${child}`, depth + 1);
    } else if (st.isSymbolicLink()) skipped.push({ path: rel, why: "a symbolic link" });
    else if (!st.isFile()) skipped.push({ path: rel, why: "not a regular file" });
    else if (st.nlink > 1n) skipped.push({ path: rel, why: "a file with other hard links" });
    else files.set(rel, st);
  };
  for (const listed of [...new Set(paths)].sort()) {
    const rel = listed.endsWith("/") ? listed.slice(0, -1) : listed;
    if (rel && (await underRealDirs(rel))) await visit(rel, rel.split("/").length);
  }
  if (scanned > MAX_SCANNED) skipped.push({ path: "…", why: `more than ${MAX_SCANNED} files and directories` });
  return { files, skipped };
}

/**
 * Opens the file at `rel` as it was scanned: through `fs` (the worktree's `ConfinedFs`: every component opened
 * with O_NOFOLLOW, nothing read from outside the worktree), and the opened file must be the very file `expect`
 * names — device, inode, size and change time (a file swapped, or a directory above it swapped for a link,
 * since the scan is refused).
 */
export async function openScanned(fs: ConfinedFs, rel: string, expect: BigIntStats): Promise<FileHandle> {
  const { handle } = await fs.openFile(rel);
  try {
    const st = await handle.stat({ bigint: true });
    // The change time too: an inode number is reused once its file is gone.
    if (st.isFile() && sameFile(st, expect)) return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
  await handle.close();
  throw new TaskFilesError(`${rel} changed while it was read`);
}

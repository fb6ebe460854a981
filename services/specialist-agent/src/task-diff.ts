import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GitRunOptions, runGit } from "./git-cli.js";
import type { TaskWorktree } from "./task-worktree.js";

/** Default size of the diff `diffFromBase` returns (bytes). */
export const DEFAULT_MAX_DIFF_BYTES = 200 * 1024;

/** Options of `diffFromBase` and `changedFilesSinceBase`. */
export interface DiffOptions {
  /**
   * `worktree` (default): the base commit against the files as they are now,
   * committed or not, new untracked files included (ignored files never);
   * `head`: the base commit against the branch's last commit only.
   */
  to?: "worktree" | "head";
}

/** One changed path, from `git diff --name-status`. */
export interface ChangedFile {
  /** `A` added, `M` modified, `D` deleted, `R` renamed, `C` copied, `T` type changed. */
  status: string;
  path: string;
  /** The old path of a rename or copy. */
  oldPath?: string;
}

/** The changes of a task since its base commit. */
export interface TaskDiff {
  /** Every changed path (never truncated). */
  files: ChangedFile[];
  /** The unified diff, cut at a line end within `maxBytes`, with a closing marker line when cut. */
  diff: string;
  truncated: boolean;
}

/** Arguments that keep the team repository's config from running programs or colouring output. */
const PLAIN = ["--no-color", "--no-ext-diff", "--no-textconv", "-M"];

/**
 * Runs `fn` with git options that make `git diff <base>` see the working tree
 * including new files: a temporary index (outside the repository, so the
 * worktree's own index is untouched) holding HEAD plus every untracked,
 * not-ignored file as intent-to-add. No objects are written.
 */
async function withDiffIndex<T>(wt: TaskWorktree, to: DiffOptions["to"], fn: (o: GitRunOptions) => Promise<T>): Promise<T> {
  if (to === "head") return fn({});
  const dir = await mkdtemp(join(tmpdir(), "mllead-diff-"));
  try {
    const env = { GIT_INDEX_FILE: join(dir, "index") };
    // A copy of the worktree's index keeps its stat data, so unchanged files are not hashed again.
    await copyFile(join(wt.gitDir, "index"), env.GIT_INDEX_FILE).catch(() => runGit(wt.root, ["read-tree", "HEAD"], { env }));
    await runGit(wt.root, ["add", "--all", "--intent-to-add"], { env });
    return await fn({ env });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function target(wt: TaskWorktree, to: DiffOptions["to"]): string[] {
  return to === "head" ? [wt.baseCommit, `refs/heads/${wt.branch}`] : [wt.baseCommit];
}

/** Parses `git diff --name-status -z`. */
export function parseNameStatus(text: string): ChangedFile[] {
  const parts = text.split("\0");
  const out: ChangedFile[] = [];
  for (let i = 0; i < parts.length; ) {
    const code = parts[i++] ?? "";
    if (!code) continue;
    const status = code.charAt(0);
    if (status === "R" || status === "C") {
      const oldPath = parts[i++] ?? "";
      out.push({ status, path: parts[i++] ?? "", oldPath });
    } else {
      out.push({ status, path: parts[i++] ?? "" });
    }
  }
  return out;
}

async function nameStatus(wt: TaskWorktree, to: DiffOptions["to"], o: GitRunOptions): Promise<ChangedFile[]> {
  const out = await runGit(wt.root, ["diff", "--name-status", "-z", ...PLAIN, ...target(wt, to)], o);
  return parseNameStatus(out.stdout);
}

/** The paths changed since the task's base commit (see `DiffOptions.to`), sorted as git lists them. */
export async function changedFilesSinceBase(wt: TaskWorktree, opts: DiffOptions = {}): Promise<ChangedFile[]> {
  return withDiffIndex(wt, opts.to, (o) => nameStatus(wt, opts.to, o));
}

/**
 * The unified diff from the task's base commit (what the code reviewer
 * reads) and the list of changed files. The diff stops at a line end within
 * `maxBytes` (default 200 KiB) and then ends with a `[diff truncated …]` line;
 * the file list is always complete. Binary files show as "Binary files differ".
 */
export async function diffFromBase(wt: TaskWorktree, opts: DiffOptions & { maxBytes?: number } = {}): Promise<TaskDiff> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DIFF_BYTES;
  return withDiffIndex(wt, opts.to, async (o) => {
    const files = await nameStatus(wt, opts.to, o);
    const out = await runGit(wt.root, ["diff", ...PLAIN, ...target(wt, opts.to)], { ...o, maxStdoutBytes: maxBytes + 1 });
    if (!out.truncated && Buffer.byteLength(out.stdout) <= maxBytes) return { files, diff: out.stdout, truncated: false };
    const bytes = Buffer.from(out.stdout).subarray(0, maxBytes);
    const cut = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
    const marker = `[diff truncated at ${cut.length} bytes; ${files.length} files changed in all, see the file list]\n`;
    return { files, diff: cut.toString("utf8") + marker, truncated: true };
  });
}

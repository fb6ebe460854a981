import { type GitRunOptions, runGit } from "./git-cli.js";
import { DEFAULT_MAX_COMMIT_FILE_BYTES } from "./task-branch.js";
import type { TaskWorktree } from "./task-worktree.js";
import { bare, recordedHead } from "./worktree-guard.js";
import { snapshotWorktree } from "./worktree-snapshot.js";

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

/** The two trees to compare, and the changed files a snapshot left out of the second. */
interface Sides {
  to: string;
  /** Changed files too large to put in the snapshot: listed, not shown. */
  extra: ChangedFile[];
}

/**
 * What the diff compares the base commit with. `worktree`: a snapshot of the
 * worktree (`snapshotWorktree`, so nothing the worktree names runs) on top of
 * where the service left the branch; `head`: that commit.
 */
async function sides(wt: TaskWorktree, to: DiffOptions["to"]): Promise<Sides> {
  const head = await recordedHead(wt);
  if (to === "head") return { to: head, extra: [] };
  const snap = await snapshotWorktree(wt, head, { maxFileBytes: DEFAULT_MAX_COMMIT_FILE_BYTES, write: true });
  const tracked = new Set(
    (await runGit(bare(wt), ["ls-tree", "-r", "-z", "--name-only", wt.baseCommit])).stdout.split("\0").filter(Boolean),
  );
  const extra = snap.uncommitted
    .filter((u) => u.reason === "too_large")
    .map((u) => ({ status: tracked.has(u.path) ? "M" : "A", path: u.path }));
  return { to: snap.tree ?? head, extra };
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

async function nameStatus(wt: TaskWorktree, side: Sides, o: GitRunOptions = {}): Promise<ChangedFile[]> {
  const out = await runGit(bare(wt), ["diff", "--name-status", "-z", ...PLAIN, wt.baseCommit, side.to], o);
  const files = parseNameStatus(out.stdout);
  const listed = new Set(files.map((f) => f.path));
  const all = [...files, ...side.extra.filter((f) => !listed.has(f.path))];
  return all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The paths changed since the task's base commit (see `DiffOptions.to`), sorted by path. */
export async function changedFilesSinceBase(wt: TaskWorktree, opts: DiffOptions = {}): Promise<ChangedFile[]> {
  return nameStatus(wt, await sides(wt, opts.to));
}

/**
 * The unified diff from the task's base commit (what the code reviewer
 * reads) and the list of changed files, compared tree to tree with no work
 * tree (so no filter, driver or textconv the worktree names can run). The diff
 * stops at a line end within `maxBytes` (default 200 KiB) and then ends with a
 * `[diff truncated …]` line; the file list is always complete (files too large
 * to snapshot are listed, not shown). Binary files show as "Binary files differ".
 */
export async function diffFromBase(wt: TaskWorktree, opts: DiffOptions & { maxBytes?: number } = {}): Promise<TaskDiff> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DIFF_BYTES;
  const side = await sides(wt, opts.to);
  const files = await nameStatus(wt, side);
  const out = await runGit(bare(wt), ["diff", ...PLAIN, wt.baseCommit, side.to], { maxStdoutBytes: maxBytes + 1 });
  if (!out.truncated && Buffer.byteLength(out.stdout) <= maxBytes) return { files, diff: out.stdout, truncated: false };
  const bytes = Buffer.from(out.stdout).subarray(0, maxBytes);
  const cut = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
  const marker = `[diff truncated at ${cut.length} bytes; ${files.length} files changed in all, see the file list]\n`;
  return { files, diff: cut.toString("utf8") + marker, truncated: true };
}

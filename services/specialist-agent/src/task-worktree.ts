import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, realpath, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { gitLine, gitOk, runGit } from "./git-cli.js";
import { GitBusyError, GitError, InvalidTaskIdError } from "./git-errors.js";
import type { SourceRepo } from "./git-repo.js";
import { KeyedLock } from "./keyed-lock.js";

/** One task's git worktree, on its own branch. */
export interface TaskWorktree {
  taskId: string;
  /** The working tree, `<workspaceDir>/<taskId>` (real path): the task's files; read-write in a sandbox. */
  root: string;
  /** `mllead/<taskId>`. */
  branch: string;
  /** The commit the branch started from; the reviewer's diff and the summary's commits count from it. */
  baseCommit: string;
  /** This worktree's own git dir (`<common>/worktrees/<name>`: HEAD, index); read-write in a sandbox. */
  gitDir: string;
  /** The repository's common git dir (objects, refs, config); read-only in a sandbox is enough for `git status`/`git diff`. */
  gitCommonDir: string;
}

/** Where and for which task `openTaskWorktree` works. */
export interface TaskWorktreeOptions {
  /** `MLLEAD_WORKSPACE_DIR`: worktrees are `<workspaceDir>/<taskId>`. */
  workspaceDir: string;
  taskId: string;
}

/** Task ids are path and branch safe: a letter or digit, then letters, digits, `_` or `-`, 64 at most. */
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** How often `openTaskWorktree` looks again when another process is creating the same worktree. */
const OPEN_TRIES = 40;

const worktreeLocks = new KeyedLock();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Returns `taskId` when it is usable as a directory name and in a branch name; throws InvalidTaskIdError otherwise. */
export function validateTaskId(taskId: string): string {
  if (!TASK_ID.test(taskId)) throw new InvalidTaskIdError(taskId);
  return taskId;
}

/** The branch of a task: `mllead/<taskId>`. */
export function taskBranch(taskId: string): string {
  return `mllead/${validateTaskId(taskId)}`;
}

/** The config key recording a task branch's base commit (in the repository's config, not the working tree). */
export function baseConfigKey(branch: string): string {
  return `branch.${branch}.mlleadBase`;
}

interface WorktreeEntry {
  path: string;
  branch?: string;
  locked?: string;
  prunable: boolean;
}

/** Parses `git worktree list --porcelain`. */
export function parseWorktreeList(text: string): WorktreeEntry[] {
  const out: WorktreeEntry[] = [];
  for (const block of text.split(/\n\n+/)) {
    const entry: WorktreeEntry = { path: "", prunable: false };
    for (const line of block.split("\n")) {
      const sp = line.indexOf(" ");
      const [key, value] = sp === -1 ? [line, ""] : [line.slice(0, sp), line.slice(sp + 1)];
      if (key === "worktree") entry.path = value;
      else if (key === "branch") entry.branch = value;
      else if (key === "locked") entry.locked = value;
      else if (key === "prunable") entry.prunable = true;
    }
    if (entry.path) out.push(entry);
  }
  return out;
}

async function listWorktrees(source: SourceRepo): Promise<WorktreeEntry[]> {
  return parseWorktreeList((await runGit(source.dir, ["worktree", "list", "--porcelain"])).stdout);
}

/** The recorded base commit of `branch`, if there is one and it still names a commit. */
async function readBase(source: SourceRepo, branch: string): Promise<string | undefined> {
  const r = await runGit(source.dir, ["config", "--get", baseConfigKey(branch)], { okExitCodes: [1] });
  const sha = r.stdout.trim();
  return sha && (await gitOk(source.dir, ["rev-parse", "--verify", "--quiet", `${sha}^{commit}`])) ? sha : undefined;
}

/** The base of a branch made by someone else (or before bases were recorded): where it left the source's base ref. */
async function recoverBase(source: SourceRepo, branch: string): Promise<string> {
  const base = await gitLine(source.dir, ["merge-base", `refs/heads/${branch}`, source.baseRef]);
  await runGit(source.dir, ["config", baseConfigKey(branch), base]);
  return base;
}

/**
 * Makes way for `git worktree add` at `path`. An empty directory can stay
 * (git adds into it). One whose `.git` file points at an existing worktree
 * git dir of this repository is being made by a concurrent `git worktree add`:
 * "busy"; of another repository: an error. Anything else is left from a
 * crash and is moved aside, never deleted.
 */
async function clearStalePath(source: SourceRepo, path: string): Promise<"clear" | "busy"> {
  if (!existsSync(path) || (await readdir(path)).length === 0) return "clear";
  const dotGit = await readFile(join(path, ".git"), "utf8").catch(() => "");
  const gitdir = /^gitdir: (.+)$/m.exec(dotGit)?.[1];
  if (gitdir && existsSync(gitdir)) {
    const owner = await realpath(dirname(dirname(gitdir)));
    if (owner === (await realpath(source.gitCommonDir))) return "busy";
    throw new GitError(`'${path}' is a worktree of another repository (${owner}); was MLLEAD_REPO changed?`);
  }
  await rename(path, `${path}.orphan-${Date.now()}`);
  return "clear";
}

/** Adds the worktree: on the existing branch, or on a new branch from the source's base ref with its base recorded first. */
async function addWorktree(source: SourceRepo, path: string, branch: string): Promise<void> {
  if (await gitOk(source.dir, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`])) {
    await runGit(source.dir, ["worktree", "add", "--quiet", path, branch]);
    return;
  }
  // A base recorded by an attempt that crashed before making the branch stays the task's base.
  let base = await readBase(source, branch);
  if (!base) {
    base = await gitLine(source.dir, ["rev-parse", "--verify", `${source.baseRef}^{commit}`]);
    // Recorded before the branch exists: a crash after `worktree add` cannot leave a branch without its base.
    await runGit(source.dir, ["config", baseConfigKey(branch), base]);
  }
  await runGit(source.dir, ["worktree", "add", "--quiet", "--no-track", "-b", branch, path, base]);
}

async function describe(source: SourceRepo, root: string, taskId: string, branch: string): Promise<TaskWorktree> {
  const recorded = await readBase(source, branch);
  // Two processes racing to make the branch may both record a base; only one made the branch.
  const onBranch =
    recorded !== undefined && (await gitOk(source.dir, ["merge-base", "--is-ancestor", recorded, `refs/heads/${branch}`]));
  const baseCommit = onBranch ? recorded : await recoverBase(source, branch);
  const [gitDir = "", gitCommonDir = ""] = (
    await runGit(root, ["rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir"])
  ).stdout
    .trim()
    .split("\n");
  return { taskId, root, branch, baseCommit, gitDir, gitCommonDir };
}

/**
 * Opens the worktree of a task: `<workspaceDir>/<taskId>` on branch
 * `mllead/<taskId>`, made from the source's base ref the first time. Opening
 * again (another step, or after a crash) returns the same worktree, branch and
 * base commit. Serialised per task within this process; a concurrent open in
 * another process is waited for (then GitBusyError, retryable).
 */
export async function openTaskWorktree(source: SourceRepo, opts: TaskWorktreeOptions): Promise<TaskWorktree> {
  const branch = taskBranch(opts.taskId);
  await mkdir(opts.workspaceDir, { recursive: true });
  // Real paths: git records worktrees by real path, and a symlinked workspace dir must still match.
  const path = join(await realpath(opts.workspaceDir), opts.taskId);
  return worktreeLocks.run(`${source.gitCommonDir}\0${opts.taskId}`, async () => {
    let lastError: unknown;
    for (let attempt = 0; attempt < OPEN_TRIES; attempt++) {
      const worktrees = await listWorktrees(source);
      const here = worktrees.find((w) => w.path === path);
      if (here?.prunable) {
        await runGit(source.dir, ["worktree", "prune"]);
        continue;
      }
      if (here && here.branch !== `refs/heads/${branch}`) {
        // Still being made by another process (no branch yet), or a worktree of something else.
        if (here.locked !== undefined) {
          await sleep(250);
          continue;
        }
        throw new GitError(`'${path}' is a worktree of ${here.branch ?? "a detached HEAD"}, not of ${branch}`);
      }
      if (here) {
        if (here.locked?.startsWith("initializing")) {
          await sleep(250);
          continue;
        }
        return describe(source, path, opts.taskId, branch);
      }
      const elsewhere = worktrees.find((w) => w.branch === `refs/heads/${branch}`);
      if (elsewhere && !elsewhere.prunable) throw new GitError(`${branch} is already checked out at '${elsewhere.path}'`);
      try {
        if ((await clearStalePath(source, path)) === "busy") {
          await sleep(250);
          continue;
        }
        await addWorktree(source, path, branch);
      } catch (err) {
        // Lost a race with another process making the same worktree: look again.
        if (
          err instanceof GitError &&
          /already exists|already checked out|already registered|is a missing but/.test(err.stderr)
        ) {
          lastError = err;
          await sleep(100 + Math.random() * 200);
          continue;
        }
        throw err;
      }
    }
    throw new GitBusyError(`the worktree of task ${opts.taskId} is still being made by another process`, { cause: lastError });
  });
}

/**
 * Removes a task's worktree directory (for cleanup), keeping its branch and
 * commits. `force` (default true) also discards uncommitted and ignored files,
 * which `commitStep` has already committed or reported.
 */
export async function removeTaskWorktree(wt: TaskWorktree, opts: { force?: boolean } = {}): Promise<void> {
  const cwd = wt.gitCommonDir;
  if (existsSync(wt.root)) {
    await runGit(cwd, ["worktree", "remove", ...(opts.force === false ? [] : ["--force"]), wt.root]);
  }
  await runGit(cwd, ["worktree", "prune"]);
}

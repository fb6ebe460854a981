import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, realpath, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { KeyedQueue } from "@mllead/service-kit";
import { GitBusyError, GitError, InvalidTaskIdError } from "./errors.js";
import { isAbsent, statIfExists } from "./fs-absent.js";
import { type GitDirs, gitLine, gitOk, runGit } from "./git-cli.js";
import type { SourceRepo } from "./git-repo.js";
import { ensureHeadRecord, findWorktreeGitDir, restoreWorktreeLinks } from "./worktree-guard.js";

/** One task's git worktree, on its own branch. */
export interface TaskWorktree {
  taskId: string;
  /**
   * The working tree (real path): `<workspaceDir>/<taskId>`, or `<workspaceDir>/<taskId>/<stepId>` for a step's
   * own; the task's files, read-write in a sandbox.
   */
  root: string;
  /**
   * The branch checked out here, which the guard keeps where the service left it: the task's branch for a
   * task worktree, `mllead-step/<taskId>/<stepId>` for a step's own worktree (see `step-worktree.ts`).
   */
  branch: string;
  /** `mllead/<taskId>`: the task's branch as people see it (results, pushes). */
  taskBranch: string;
  /** The commit the branch started from; the reviewer's diff and the summary's commits count from it. */
  baseCommit: string;
  /**
   * This worktree's own git dir (`<common>/worktrees/<name>`: HEAD, index), as
   * the repository records it; read-only in a sandbox. The service never asks
   * the worktree's `.git` file where it is.
   */
  gitDir: string;
  /** The repository's common git dir (objects, refs, config); read-only in a sandbox, enough for `git status`/`git diff`. */
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

const worktreeLocks = new KeyedQueue();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Returns `taskId` when it is usable as a directory name and in a branch name; throws InvalidTaskIdError otherwise. */
export function validateTaskId(taskId: string): string {
  if (!TASK_ID.test(taskId)) {
    throw new InvalidTaskIdError(`task id '${taskId.slice(0, 80)}' is not usable as a directory and branch name`);
  }
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

/** The repository, bare: every command here names its common dir and no work tree. */
const repoOf = (source: SourceRepo): GitDirs => ({ gitDir: source.gitCommonDir });

async function listWorktrees(source: SourceRepo): Promise<WorktreeEntry[]> {
  return parseWorktreeList((await runGit(repoOf(source), ["worktree", "list", "--porcelain"])).stdout);
}

/** The recorded base commit of `branch`, if there is one and it still names a commit. */
async function readBase(source: SourceRepo, branch: string): Promise<string | undefined> {
  const r = await runGit(repoOf(source), ["config", "--get", baseConfigKey(branch)], { okExitCodes: [1] });
  const sha = r.stdout.trim();
  return sha && (await gitOk(repoOf(source), ["rev-parse", "--verify", "--quiet", `${sha}^{commit}`])) ? sha : undefined;
}

/** The base of a branch made by someone else (or before bases were recorded): where it left the source's base ref. */
async function recoverBase(source: SourceRepo, branch: string): Promise<string> {
  const base = await gitLine({ gitDir: source.gitDir }, ["merge-base", `refs/heads/${branch}`, source.baseRef]);
  await runGit(repoOf(source), ["config", baseConfigKey(branch), base]);
  return base;
}

/** The text of `<path>/.git` when it is a file; "" when there is none or it is a directory (a repository's own). */
async function readDotGit(path: string): Promise<string> {
  try {
    return await readFile(join(path, ".git"), "utf8");
  } catch (err) {
    if (isAbsent(err) || (err as NodeJS.ErrnoException).code === "EISDIR") return "";
    throw err;
  }
}

/**
 * Makes way for `git worktree add` at `path`. An empty directory can stay
 * (git adds into it). One this repository has a worktree entry for is being
 * made by a concurrent `git worktree add`: "busy". One whose `.git` names a
 * worktree of another repository: an error (only a message is taken from that
 * file). Anything else is left from a crash and is moved aside, never deleted.
 */
async function clearStalePath(source: SourceRepo, path: string): Promise<"clear" | "busy"> {
  if (!existsSync(path) || (await readdir(path)).length === 0) return "clear";
  if (await findWorktreeGitDir(source.gitCommonDir, path)) return "busy";
  const dotGit = await readDotGit(path);
  const gitdir = /^gitdir: (.+)$/m.exec(dotGit)?.[1];
  if (gitdir && existsSync(gitdir) && existsSync(join(gitdir, "commondir"))) {
    const owner = await realpath(dirname(dirname(gitdir)));
    if (owner !== (await realpath(source.gitCommonDir))) {
      throw new GitError(`'${path}' is a worktree of another repository (${owner}); was MLLEAD_REPO changed?`);
    }
  }
  await rename(path, `${path}.orphan-${Date.now()}`);
  return "clear";
}

/** Adds the worktree: on the existing branch, or on a new branch from the source's base ref with its base recorded first. */
async function addWorktree(source: SourceRepo, path: string, branch: string): Promise<void> {
  if (await gitOk(repoOf(source), ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`])) {
    await runGit(repoOf(source), ["worktree", "add", "--quiet", path, branch]);
    return;
  }
  // A base recorded by an attempt that crashed before making the branch stays the task's base.
  let base = await readBase(source, branch);
  if (!base) {
    base = await gitLine({ gitDir: source.gitDir }, ["rev-parse", "--verify", `${source.baseRef}^{commit}`]);
    // Recorded before the branch exists: a crash after `worktree add` cannot leave a branch without its base.
    await runGit(repoOf(source), ["config", baseConfigKey(branch), base]);
  }
  await runGit(repoOf(source), ["worktree", "add", "--quiet", "--no-track", "-b", branch, path, base]);
}

async function describe(source: SourceRepo, root: string, taskId: string, branch: string): Promise<TaskWorktree> {
  const recorded = await readBase(source, branch);
  // Two processes racing to make the branch may both record a base; only one made the branch.
  const onBranch =
    recorded !== undefined && (await gitOk(repoOf(source), ["merge-base", "--is-ancestor", recorded, `refs/heads/${branch}`]));
  const baseCommit = onBranch ? recorded : await recoverBase(source, branch);
  const gitDir = await findWorktreeGitDir(source.gitCommonDir, root);
  if (!gitDir) throw new GitError(`the repository has no worktree entry for '${root}'`);
  const wt = { taskId, root, branch, taskBranch: branch, baseCommit, gitDir, gitCommonDir: source.gitCommonDir };
  await ensureHeadRecord(wt);
  return wt;
}

/**
 * Puts back the `.git` file and HEAD of an existing worktree entry for
 * `path` (a step may have deleted or rewritten them), so git does not take
 * the worktree for a stale one and prune it with the work in it. Entries git
 * is still making (locked) are left to it.
 */
async function repairLinks(source: SourceRepo, path: string, taskId: string, branch: string): Promise<void> {
  const gitDir = await findWorktreeGitDir(source.gitCommonDir, path);
  if (!gitDir || existsSync(join(gitDir, "locked")) || !(await statIfExists(path))?.isDirectory()) return;
  await restoreWorktreeLinks({ taskId, root: path, branch, gitDir, gitCommonDir: source.gitCommonDir });
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
      await repairLinks(source, path, opts.taskId, branch);
      const worktrees = await listWorktrees(source);
      const here = worktrees.find((w) => w.path === path);
      if (here?.prunable) {
        await runGit(repoOf(source), ["worktree", "prune"]);
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

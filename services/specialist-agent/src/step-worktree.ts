import { existsSync } from "node:fs";
import { mkdir, readdir, realpath, rename, rm, rmdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { bestEffort, KeyedQueue } from "@mllead/service-kit";
import type { Logger } from "pino";
import { GitError, InvalidTaskIdError } from "./errors.js";
import { type GitDirs, gitOk, runGit } from "./git-cli.js";
import type { SourceRepo } from "./git-repo.js";
import { type TaskWorktree, taskBranch, validateTaskId } from "./task-worktree.js";
import { ensureHeadRecord, findWorktreeGitDir, restoreWorktreeLinks } from "./worktree-guard.js";

/** Where a step's worktree starts: the task's base and its branch's head when the step began. */
export interface StepStart {
  base: string;
  head: string;
}

/** Which step's worktree, and where worktrees live. */
export interface StepWorktreeOptions {
  /** `MLLEAD_WORKSPACE_DIR`: a step's worktree is `<workspaceDir>/<taskId>/<stepId>`. */
  workspaceDir: string;
  taskId: string;
  stepId: string;
}

const locks = new KeyedQueue();
const repoOf = (source: SourceRepo): GitDirs => ({ gitDir: source.gitCommonDir });

/** Step ids (the contracts' `Id`) are path and branch safe: letters, digits, `_` and `-`, 64 at most. */
const STEP_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The branch of one step's worktree: `mllead-step/<taskId>/<stepId>` (beside, not under, `mllead/<taskId>`). */
export function stepBranch(taskId: string, stepId: string): string {
  if (!STEP_ID.test(stepId))
    throw new InvalidTaskIdError(`step id '${stepId.slice(0, 80)}' is not usable as a directory and branch name`);
  return `mllead-step/${validateTaskId(taskId)}/${stepId}`;
}

/**
 * Opens the worktree of one step: `<workspaceDir>/<taskId>/<stepId>` on its own branch, made from the
 * task's head `start.head` the first time. Opening it again (the same step redelivered to this replica after
 * a crash) returns it as the step left it, its links to the repository put back. A directory there that the
 * repository does not know is moved aside, never deleted. Parallel steps of one task each get their own, so
 * none commits another's changes; their commits meet on the task's branch (`joinStepCommit`).
 */
export async function openStepWorktree(source: SourceRepo, opts: StepWorktreeOptions, start: StepStart): Promise<TaskWorktree> {
  const branch = stepBranch(opts.taskId, opts.stepId);
  const taskDir = join(opts.workspaceDir, opts.taskId);
  // One open or removal per task at a time here: a removal takes the task's directory when it is empty.
  return locks.run(taskDir, async () => {
    await mkdir(taskDir, { recursive: true });
    // Real paths: git records worktrees by real path, and a symlinked workspace dir must still match.
    const root = join(await realpath(taskDir), opts.stepId);
    let gitDir = await findWorktreeGitDir(source.gitCommonDir, root);
    if (gitDir && !existsSync(root)) {
      await rm(gitDir, { recursive: true, force: true });
      gitDir = undefined;
    }
    if (!gitDir) {
      if (existsSync(root) && (await readdir(root)).length > 0) await rename(root, `${root}.orphan-${Date.now()}`);
      const exists = await gitOk(repoOf(source), ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]);
      // A step branch left by a crash keeps its commit; the join re-applies it onto the head of then.
      const args = exists ? [root, branch] : ["--no-track", "-b", branch, root, start.head];
      await runGit(repoOf(source), ["worktree", "add", "--quiet", ...args]);
      gitDir = await findWorktreeGitDir(source.gitCommonDir, root);
      if (!gitDir) throw new GitError(`the repository has no worktree entry for '${root}'`);
    }
    const wt: TaskWorktree = {
      taskId: opts.taskId,
      root,
      branch,
      taskBranch: taskBranch(opts.taskId),
      baseCommit: start.base,
      gitDir,
      gitCommonDir: source.gitCommonDir,
    };
    // The step may have rewritten the worktree's .git or HEAD before a crash: put back before any use.
    await restoreWorktreeLinks(wt);
    await ensureHeadRecord(wt);
    return wt;
  });
}

/**
 * Removes a finished step's worktree, its entry in the repository and its branch (its commit is on the task's
 * branch by then). Files are removed by Node without following a link the step planted; nothing of the
 * worktree is read by git. Failures are logged, never the step's.
 */
export async function removeStepWorktree(wt: TaskWorktree, log: Logger, workspaceDir: string): Promise<void> {
  await locks.run(join(workspaceDir, wt.taskId), async () => {
    await bestEffort("remove a step's worktree", log, () => rm(wt.root, { recursive: true, force: true }));
    await bestEffort("remove a step's worktree entry", log, () => rm(wt.gitDir, { recursive: true, force: true }));
    await bestEffort("delete a step's branch", log, () =>
      runGit({ gitDir: wt.gitCommonDir }, ["update-ref", "-d", `refs/heads/${wt.branch}`]),
    );
    // The task's directory goes when its last step's worktree has gone (another step may be using it).
    await rmdir(dirname(wt.root)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST" && err.code !== "ENOENT")
        log.warn({ err }, "could not remove a task's directory");
    });
  });
}

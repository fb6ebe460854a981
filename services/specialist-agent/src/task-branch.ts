import { lstat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { formatStepMessage, parseTrailers, type StepCommitInfo, stepTrailers } from "./commit-message.js";
import { gitLine, redactUrls, runGit } from "./git-cli.js";
import { GitPushError } from "./git-errors.js";
import { isCloneUrl } from "./git-repo.js";
import { KeyedLock } from "./keyed-lock.js";
import type { TaskWorktree } from "./task-worktree.js";

/** Largest file `commitStep` commits by default (bytes, 5 MiB); bigger ones stay uncommitted and are reported. */
export const DEFAULT_MAX_COMMIT_FILE_BYTES = 5 * 1024 * 1024;
/** Longest a push may take (ms). */
const PUSH_TIMEOUT_MS = 10 * 60_000;

/** A commit one step made. */
export interface StepCommit {
  sha: string;
  /** The full commit message. */
  message: string;
  /** Paths the commit added, changed or deleted (relative, `/`-separated). */
  files: string[];
  /** True when the commit was made earlier by the same attempt (a resumed step) rather than now. */
  reused: boolean;
}

/** A changed file `commitStep` left out of the commit. */
export interface UncommittedFile {
  path: string;
  /** `too_large`: over the size limit; `nested_repo`: a git repository inside the worktree. */
  reason: "too_large" | "nested_repo";
  /** Its size (bytes) when `too_large`. */
  bytes?: number;
}

/** What `commitStep` did: the step's commit (null when nothing changed), and what it left out. */
export interface StepCommitResult {
  commit: StepCommit | null;
  uncommitted: UncommittedFile[];
}

/** A commit on a task's branch since its base. */
export interface TaskCommit {
  sha: string;
  subject: string;
  /** From the `Mllead-Task`, `Mllead-Step` and `Mllead-Attempt` trailers; absent on commits mllead did not make. */
  taskId?: string;
  stepId?: string;
  attempt?: number;
}

/** Where `pushBranch` put the branch. */
export interface PushResult {
  /** The remote as given, without credentials. */
  remote: string;
  /** `refs/heads/mllead/<taskId>` on the remote. */
  ref: string;
  /** The commit the remote branch now points at. */
  sha: string;
}

const commitLocks = new KeyedLock();

/** Paths `git status` reports as changed (ignored files excluded), as `[path, deleted]`. */
async function changedPaths(root: string): Promise<Array<[string, boolean]>> {
  const out = await runGit(root, ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"]);
  return out.stdout
    .split("\0")
    .filter((e) => e.length > 3)
    .map((e) => [e.slice(3), e[0] === "D" || e[1] === "D"]);
}

async function commitFiles(root: string, sha: string): Promise<string[]> {
  const out = await runGit(root, ["diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--no-renames", sha]);
  return out.stdout.split("\0").filter(Boolean);
}

/**
 * Commits what one step changed in its task's worktree: `git add` of every
 * changed path that .gitignore does not exclude, then one commit whose message
 * names the role, task, step and attempt (see `formatStepMessage`). Files over
 * `maxFileBytes` (default 5 MiB) and nested repositories are left uncommitted
 * and listed. Returns a null commit when nothing changed. After a crash, a
 * resumed attempt whose commit is already on the branch, with nothing new
 * changed, gets that commit back (`reused`), never a second one. Commits into
 * one worktree are made one at a time.
 */
export async function commitStep(
  wt: TaskWorktree,
  info: StepCommitInfo,
  opts: { maxFileBytes?: number } = {},
): Promise<StepCommitResult> {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_COMMIT_FILE_BYTES;
  return commitLocks.run(wt.root, async () => {
    const uncommitted: UncommittedFile[] = [];
    const staged: string[] = [];
    for (const [path, deleted] of await changedPaths(wt.root)) {
      if (path.endsWith("/")) uncommitted.push({ path, reason: "nested_repo" });
      else if (deleted) staged.push(path);
      else {
        const st = await lstat(join(wt.root, path)).catch(() => null);
        if (st?.isFile() && st.size > maxFileBytes) uncommitted.push({ path, reason: "too_large", bytes: st.size });
        else staged.push(path);
      }
    }
    if (staged.length > 0) {
      await runGit(wt.root, ["add", "--all", "--pathspec-from-file=-", "--pathspec-file-nul"], {
        input: staged.join("\0"),
        env: { GIT_LITERAL_PATHSPECS: "1" },
      });
    }
    const pending = (await runGit(wt.root, ["diff", "--cached", "--quiet"], { okExitCodes: [1] })).exitCode === 1;
    if (!pending) {
      const prior = (await listTaskCommits(wt)).find(
        (c) => c.taskId === info.taskId && c.stepId === info.stepId && c.attempt === info.attempt,
      );
      if (!prior) return { commit: null, uncommitted };
      const message = (await runGit(wt.root, ["log", "-1", "--format=%B", prior.sha])).stdout;
      return { commit: { sha: prior.sha, message, files: await commitFiles(wt.root, prior.sha), reused: true }, uncommitted };
    }
    const message = formatStepMessage(info);
    await runGit(wt.root, ["commit", "--quiet", "--no-verify", "--cleanup=whitespace", "-F", "-"], { input: message });
    const sha = await gitLine(wt.root, ["rev-parse", "HEAD"]);
    return { commit: { sha, message, files: await commitFiles(wt.root, sha), reused: false }, uncommitted };
  });
}

/** The commits on the task's branch since its base commit, oldest first, with the step each belongs to. */
export async function listTaskCommits(wt: TaskWorktree): Promise<TaskCommit[]> {
  const out = await runGit(wt.root, [
    "log",
    "--reverse",
    "--format=%H%x1f%s%x1f%(trailers:only,unfold)%x1e",
    `${wt.baseCommit}..refs/heads/${wt.branch}`,
  ]);
  const commits: TaskCommit[] = [];
  for (const record of out.stdout.split("\x1e")) {
    const [sha = "", subject = "", trailers = ""] = record.replace(/^\n/, "").split("\x1f");
    if (!sha) continue;
    commits.push({ sha, subject, ...stepTrailers(parseTrailers(trailers)) });
  }
  return commits;
}

/**
 * Pushes the task's branch to `remote` (`MLLEAD_PUSH_REMOTE`: a URL, or a
 * path to a repository, e.g. a bare one) as the same branch name. Not forced:
 * a remote branch that has moved on rejects the push. Throws GitPushError.
 */
export async function pushBranch(wt: TaskWorktree, remote: string): Promise<PushResult> {
  const target = isCloneUrl(remote) ? remote : resolve(remote);
  const ref = `refs/heads/${wt.branch}`;
  await runGit(wt.root, ["push", "--quiet", "--no-verify", target, `${ref}:${ref}`], {
    timeoutMs: PUSH_TIMEOUT_MS,
    fail: (message, args, exitCode, stderr) =>
      new GitPushError(`pushing ${wt.branch} to ${redactUrls(remote)} failed: ${stderr || message}`, args, exitCode, stderr),
  });
  return { remote: redactUrls(remote), ref, sha: await gitLine(wt.root, ["rev-parse", ref]) };
}

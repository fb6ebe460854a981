import { resolve } from "node:path";
import { KeyedQueue } from "@mllead/service-kit";
import { formatStepMessage, parseTrailers, type StepCommitInfo, stepTrailers } from "./commit-message.js";
import { GitError, GitPushError } from "./errors.js";
import { redactUrls, runGit } from "./git-cli.js";
import { splitCredentials } from "./git-credentials.js";
import { isCloneUrl } from "./git-repo.js";
import type { TaskWorktree } from "./task-worktree.js";
import { bare, guardWorktree, moveBranch, readBranch, syncIndex, writeHeadRecord } from "./worktree-guard.js";
import { snapshotWorktree, type UncommittedFile } from "./worktree-snapshot.js";

export type { UncommittedFile } from "./worktree-snapshot.js";

/** Largest file `commitStep` commits by default (bytes, 5 MiB); bigger ones stay uncommitted and are reported. */
export const DEFAULT_MAX_COMMIT_FILE_BYTES = 5 * 1024 * 1024;
/** Longest a push may take (ms). */
const PUSH_TIMEOUT_MS = 10 * 60_000;
/** Times `commitStep` builds its commit again when another process moved the branch first. */
const COMMIT_TRIES = 3;

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

/** What `commitStep` did: the step's commit (null when nothing changed), what it left out, and what it put back. */
export interface StepCommitResult {
  commit: StepCommit | null;
  uncommitted: UncommittedFile[];
  /** Git metadata the step had changed (its `.git`, HEAD, the task's branch), each put back before committing. */
  tampered: string[];
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

const commitLocks = new KeyedQueue();

async function commitFiles(wt: TaskWorktree, sha: string): Promise<string[]> {
  const out = await runGit(bare(wt), ["diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--no-renames", sha]);
  return out.stdout.split("\0").filter(Boolean);
}

/** True for the error `moveBranch` throws when the branch was not where it was expected. */
function lostRace(err: unknown): boolean {
  return err instanceof GitError && /but expected|reference already exists/.test(err.stderr);
}

/** One try of `commitStep` inside its lock: guard, snapshot, commit, compare-and-swap the branch. */
async function commitOnce(wt: TaskWorktree, info: StepCommitInfo, maxFileBytes: number): Promise<StepCommitResult> {
  const { head, tampered } = await guardWorktree(wt);
  const snap = await snapshotWorktree(wt, head, { maxFileBytes, write: true });
  const headTree = (await runGit(bare(wt), ["rev-parse", `${head}^{tree}`])).stdout.trim();
  if (snap.tree === headTree) {
    await syncIndex(wt, head);
    const prior = (await listTaskCommits(wt)).find(
      (c) => c.taskId === info.taskId && c.stepId === info.stepId && c.attempt === info.attempt,
    );
    if (!prior) return { commit: null, uncommitted: snap.uncommitted, tampered };
    const message = (await runGit(bare(wt), ["log", "-1", "--format=%B", prior.sha])).stdout;
    const files = await commitFiles(wt, prior.sha);
    return { commit: { sha: prior.sha, message, files, reused: true }, uncommitted: snap.uncommitted, tampered };
  }
  const message = formatStepMessage(info);
  const sha = (await runGit(bare(wt), ["commit-tree", snap.tree ?? "", "-p", head, "-F", "-"], { input: message })).stdout.trim();
  await moveBranch(wt, sha, head, `mllead: ${message.split("\n")[0] ?? ""}`);
  // A crash before this line is harmless: the guard takes a commit of the service's own on top of the record as its own.
  await writeHeadRecord(wt, { head: sha });
  await syncIndex(wt, sha);
  return { commit: { sha, message, files: await commitFiles(wt, sha), reused: false }, uncommitted: snap.uncommitted, tampered };
}

/**
 * Commits what one step changed in its task's worktree onto
 * `refs/heads/mllead/<taskId>` only: first puts back any git metadata the
 * step changed (reported in `tampered`) and the branch where the service left
 * it; then snapshots the worktree without letting git read it (see
 * `snapshotWorktree`: .gitignore decides which new files count, nothing runs),
 * makes one commit whose message names the role, task, step and attempt, and
 * moves the branch with a compare-and-swap. Files over `maxFileBytes`
 * (default 5 MiB) and nested repositories are left uncommitted and listed.
 * Returns a null commit when nothing changed. A resumed attempt whose commit
 * is already on the branch, with nothing new changed, gets that commit back
 * (`reused`), never a second one. Commits into one worktree are made one at a
 * time; one that loses the branch to another process is built again.
 */
export async function commitStep(
  wt: TaskWorktree,
  info: StepCommitInfo,
  opts: { maxFileBytes?: number } = {},
): Promise<StepCommitResult> {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_COMMIT_FILE_BYTES;
  return commitLocks.run(wt.root, async () => {
    const tampered: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await commitOnce(wt, info, maxFileBytes);
        return { ...r, tampered: [...tampered, ...r.tampered] };
      } catch (err) {
        if (!lostRace(err) || attempt >= COMMIT_TRIES) throw err;
      }
    }
  });
}

/** The commits on the task's branch since its base commit, oldest first, with the step each belongs to. */
export async function listTaskCommits(wt: TaskWorktree): Promise<TaskCommit[]> {
  const out = await runGit(bare(wt), [
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
 * path to a repository, e.g. a bare one) as the same branch name: exactly
 * `sha` when given (the commit the reviewer approved), else the branch's
 * commit now. Credentials in the URL reach git for this call only. Not
 * forced: a remote branch that has moved on rejects the push. Throws GitPushError.
 */
export async function pushBranch(wt: TaskWorktree, remote: string, sha?: string): Promise<PushResult> {
  const target = isCloneUrl(remote) ? splitCredentials(remote) : { url: resolve(remote) };
  const ref = `refs/heads/${wt.taskBranch}`;
  const commit = sha ?? (await readBranch(wt));
  if (!commit) throw new GitPushError(`the task's branch ${wt.taskBranch} does not exist; nothing to push`);
  await runGit(bare(wt), ["push", "--quiet", "--no-verify", target.url, `${commit}:${ref}`], {
    timeoutMs: PUSH_TIMEOUT_MS,
    network: { credentials: target.credentials },
    fail: (message, args, exitCode, stderr) =>
      new GitPushError(`pushing ${wt.taskBranch} to ${redactUrls(remote)} failed: ${stderr || message}`, args, exitCode, stderr),
  });
  return { remote: redactUrls(remote), ref, sha: commit };
}

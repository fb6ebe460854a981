import { RetryableError } from "./errors.js";

/** A `git` command failed. `args` and `stderr` have credentials in URLs redacted. */
export class GitError extends Error {
  readonly code: string = "git_failed";
  override readonly name: string = "GitError";
  constructor(
    message: string,
    readonly args: readonly string[] = [],
    readonly exitCode: number | null = null,
    readonly stderr = "",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A task id that is not safe as a directory name and a branch name (see `validateTaskId`). */
export class InvalidTaskIdError extends GitError {
  override readonly code = "invalid_task_id";
  override readonly name = "InvalidTaskIdError";
  constructor(readonly taskId: string) {
    super(`task id '${taskId.slice(0, 80)}' is not usable as a directory and branch name`);
  }
}

/** `MLLEAD_REPO` (or the demo source) could not be opened, cloned or fetched. */
export class SourceRepoError extends GitError {
  override readonly code = "source_repo_failed";
  override readonly name = "SourceRepoError";
}

/** Pushing a task's branch to `MLLEAD_PUSH_REMOTE` failed (unreachable, rejected, not a repository). */
export class GitPushError extends GitError {
  override readonly code = "git_push_failed";
  override readonly name = "GitPushError";
}

/**
 * Another git process held a lock (`index.lock`, a ref or config lock, a
 * worktree still being created) for longer than the brief retries allow.
 * Retryable: the step is redelivered rather than failed.
 */
export class GitBusyError extends RetryableError {
  override readonly code = "git_busy";
  override readonly name = "GitBusyError";
}

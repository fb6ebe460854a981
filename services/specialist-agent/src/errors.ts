import { RetryableStepError, TransientBrainError } from "@mllead/brain";
import { codedError, ShuttingDownError } from "@mllead/service-kit";

/**
 * Every error the specialist throws, one code each (fastify's `lib/errors.js` table, bolt's `ErrorCode`).
 * A code is stable: step failures, scout replies and logs carry it. `WorkspaceFileError` takes the code of
 * the sandbox's `ConfinedFsError` it wraps (`not_found`, `read_only`, …). A process shutting down throws
 * service-kit's `ShuttingDownError` (`shutting_down`), retryable here like a `RetryableError`.
 */
export const ErrorCode = {
  /** A step-level failure the person sees; the step ends as `step.failed`. */
  StepTool: "step_tool_error",
  /** A tool's path leaves the task's workspace. */
  PathEscape: "path_escape",
  /** An artifact asked for does not exist in the Object Store. */
  ArtifactNotFound: "artifact_not_found",
  /** An artifact's download broke off. */
  ArtifactDownload: "artifact_download_failed",
  /** A GPU job did not report `job.finished` in time. */
  GpuJobTimeout: "gpu_job_timeout",
  /** The worktree is larger than a GPU job may ship. */
  WorktreeTooLarge: "worktree_too_large",
  /** The step cannot run now for a reason unrelated to the work: redelivered. */
  Retryable: "retryable",
  /** A call to NATS failed: redelivered. */
  Infrastructure: "infrastructure",
  /** The same step attempt is already running here: redelivered. */
  StepBusy: "step_busy",
  /** A git command failed. */
  Git: "git_failed",
  /** A task id unusable as a directory and branch name. */
  InvalidTaskId: "invalid_task_id",
  /** MLLEAD_REPO (or the demo source) could not be opened, cloned or fetched. */
  SourceRepo: "source_repo_failed",
  /** Pushing a task's branch failed. */
  GitPush: "git_push_failed",
  /** Git's locks stayed taken past the brief retries: redelivered. */
  GitBusy: "git_busy",
  /** This replica's repository lacks the commit a task's branch starts from (another repository, or not fetched). */
  TaskBaseMissing: "task_base_missing",
  /** A step's commit conflicts with what other steps of the task committed meanwhile. */
  StepConflict: "step_conflict",
  /** A task's branch could not be brought here or published (a bundle that is missing or does not apply). */
  TaskBranchSync: "task_branch_sync_failed",
  /** A task's uncommitted files (ignored data, models) could not be carried to its next steps or laid out. */
  TaskFiles: "task_files_failed",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A step-level failure the person should see; the step ends as `step.failed`. */
export class StepToolError extends Error {
  readonly code: string = ErrorCode.StepTool;
  override readonly name: string = "StepToolError";
}

/** A path given to a tool resolves outside the task's workspace. */
export class PathEscapeError extends StepToolError {
  override readonly code = ErrorCode.PathEscape;
  override readonly name = "PathEscapeError";
  constructor(readonly path: string) {
    super(`path '${path}' leaves the task workspace`);
  }
}

/**
 * A file tool refused a workspace path or could not use the file: a symbolic link out of the workspace
 * (`path_escape`), a read-only data dir, a missing file, a directory, a file too large. The message is the model's.
 */
export class WorkspaceFileError extends StepToolError {
  override readonly name = "WorkspaceFileError";
  constructor(
    message: string,
    override readonly code: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An artifact asked for does not exist in the Object Store. */
export const ArtifactNotFoundError = codedError(StepToolError, ErrorCode.ArtifactNotFound, "ArtifactNotFoundError");

/** An artifact's download from the Object Store broke off; the workspace file is left as it was. */
export const ArtifactDownloadError = codedError(StepToolError, ErrorCode.ArtifactDownload, "ArtifactDownloadError");

/** A GPU job did not report `job.finished` within its timeout plus the wait margin. */
export class GpuJobTimeoutError extends StepToolError {
  override readonly code = ErrorCode.GpuJobTimeout;
  override readonly name = "GpuJobTimeoutError";
  constructor(
    readonly jobId: string,
    readonly waitedSec: number,
  ) {
    super(`GPU job ${jobId} did not finish within ${waitedSec}s (is a gpu-runner up?)`);
  }
}

/** The worktree is larger than a GPU job may ship; the message tells the model what to do. */
export const WorktreeTooLargeError = codedError(StepToolError, ErrorCode.WorktreeTooLarge, "WorktreeTooLargeError");

/**
 * The step could not run for a reason unrelated to the work itself (NATS down, the same step already running
 * here; the process shutting down is service-kit's `ShuttingDownError`, see `stepShuttingDown`). The step
 * message is redelivered instead of the step being reported as failed. It extends the brain's
 * RetryableStepError, so a tool that meets it inside a Claude loop ends the loop instead of showing it to the model.
 */
export class RetryableError extends RetryableStepError {
  override readonly code: string = ErrorCode.Retryable;
  override readonly name: string = "RetryableError";
}

/** A call to NATS (publish, Object Store, stream lookup) failed. */
export const InfrastructureError = codedError(RetryableError, ErrorCode.Infrastructure, "InfrastructureError");
/** The same attempt of the same step is already running in this process (a duplicate delivery). */
export const StepBusyError = codedError(RetryableError, ErrorCode.StepBusy, "StepBusyError");

/** A `git` command failed. `args` and `stderr` have credentials in URLs redacted. */
export class GitError extends Error {
  readonly code: string = ErrorCode.Git;
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
export const InvalidTaskIdError = codedError(GitError, ErrorCode.InvalidTaskId, "InvalidTaskIdError");

/** `MLLEAD_REPO` (or the demo source) could not be opened, cloned or fetched. */
export const SourceRepoError = codedError(GitError, ErrorCode.SourceRepo, "SourceRepoError");
/** Pushing a task's branch to `MLLEAD_PUSH_REMOTE` failed (unreachable, rejected, not a repository). */
export const GitPushError = codedError(GitError, ErrorCode.GitPush, "GitPushError");

/** This replica's repository lacks the task's base commit: the step fails with what to do. */
export const TaskBaseMissingError = codedError(GitError, ErrorCode.TaskBaseMissing, "TaskBaseMissingError");
/** A task branch's bundle is missing or does not apply here. */
export const TaskBranchSyncError = codedError(GitError, ErrorCode.TaskBranchSync, "TaskBranchSyncError");

/** A task's uncommitted file could not be read, uploaded or laid out (a step's warning names it). */
export class TaskFilesError extends Error {
  readonly code: string = ErrorCode.TaskFiles;
  override readonly name: string = "TaskFilesError";
}

/** A step's commit touches what another step of the same task changed meanwhile, in the same lines. */
export class StepConflictError extends GitError {
  override readonly code = ErrorCode.StepConflict;
  override readonly name = "StepConflictError";
  constructor(
    message: string,
    /** The conflicting paths. */
    readonly files: readonly string[],
  ) {
    super(message);
  }
}

/**
 * Another git process held a lock (`index.lock`, a ref or config lock, a
 * worktree still being created) for longer than the brief retries allow.
 * Retryable: the step is redelivered rather than failed.
 */
export const GitBusyError = codedError(RetryableError, ErrorCode.GitBusy, "GitBusyError");

/**
 * Service-kit's `ShuttingDownError` for a step that stops waiting because the process stops. Its cause is a
 * `RetryableError`, so the brain's tool loop (which halts on a RetryableStepError in the chain) ends instead of
 * showing it to the model, while the step handler still sees the `ShuttingDownError` itself.
 */
export function stepShuttingDown(message: string): ShuttingDownError {
  return new ShuttingDownError(message, { cause: new RetryableError(message) });
}

/** True when `err`, or anything in its `cause` chain, asks for redelivery rather than failure. */
export function isRetryable(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; cur instanceof Error && depth < 10; depth++) {
    if (cur instanceof RetryableError || cur instanceof ShuttingDownError) return true;
    // Claude overloaded or unreachable past the brain's own retries: the step is redelivered later and its loop
    // resumes from the saved transcript, instead of failing the step and spending a re-plan.
    if (cur instanceof TransientBrainError) return true;
    cur = cur.cause;
  }
  return false;
}

/** Runs a call to NATS, turning any failure into an InfrastructureError (so the step is redelivered). */
export async function infra<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StepToolError || err instanceof RetryableError || err instanceof ShuttingDownError) throw err;
    throw new InfrastructureError(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

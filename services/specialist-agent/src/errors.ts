import { RetryableStepError, TransientBrainError } from "@mllead/brain";
/** A step-level failure the person should see; the step ends as `step.failed`. */
export class StepToolError extends Error {
  readonly code: string = "step_tool_error";
  override readonly name: string = "StepToolError";
}

/** A path given to a tool resolves outside the task's workspace. */
export class PathEscapeError extends StepToolError {
  override readonly code = "path_escape";
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
export class ArtifactNotFoundError extends StepToolError {
  override readonly code = "artifact_not_found";
  override readonly name = "ArtifactNotFoundError";
  constructor(readonly objectName: string) {
    super(`artifact '${objectName}' does not exist`);
  }
}

/** A GPU job did not report `job.finished` within its timeout plus the wait margin. */
export class GpuJobTimeoutError extends StepToolError {
  override readonly code = "gpu_job_timeout";
  override readonly name = "GpuJobTimeoutError";
  constructor(
    readonly jobId: string,
    readonly waitedSec: number,
  ) {
    super(`GPU job ${jobId} did not finish within ${waitedSec}s (is a gpu-runner up?)`);
  }
}

/**
 * The step could not run for a reason unrelated to the work itself (NATS down,
 * the process shutting down, the same step already running here). The step
 * message is redelivered instead of the step being reported as failed. It extends the brain's
 * RetryableStepError, so a tool that meets it inside a Claude loop ends the loop instead of showing it to the model.
 */
export class RetryableError extends RetryableStepError {
  override readonly code: string = "retryable";
  override readonly name: string = "RetryableError";
}

/** A call to NATS (publish, Object Store, stream lookup) failed. */
export class InfrastructureError extends RetryableError {
  override readonly code = "infrastructure";
  override readonly name = "InfrastructureError";
}

/** The process is shutting down; whatever the step waited for is picked up again on redelivery. */
export class ShuttingDownError extends RetryableError {
  override readonly code = "shutting_down";
  override readonly name = "ShuttingDownError";
}

/** The same attempt of the same step is already running in this process (a duplicate delivery). */
export class StepBusyError extends RetryableError {
  override readonly code = "step_busy";
  override readonly name = "StepBusyError";
}

/** True when `err`, or anything in its `cause` chain, asks for redelivery rather than failure. */
export function isRetryable(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; cur instanceof Error && depth < 10; depth++) {
    if (cur instanceof RetryableError) return true;
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
    if (err instanceof StepToolError || err instanceof RetryableError) throw err;
    throw new InfrastructureError(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

import type { Usage } from "@mllead/contracts";

/** Why a step's tool loop ended without a result. */
export type StepLoopStop = "iterations" | "budget" | "time" | "refusal" | "unfinished";

/** A step's Claude tool loop ended without FinishStep: the step fails with this message. */
export class StepLoopError extends Error {
  readonly code: `step_loop_${StepLoopStop}`;
  override readonly name = "StepLoopError";
  /** What the loop had spent when it ended, so a failed step's cost still counts. */
  usage?: Usage;
  constructor(
    readonly stop: StepLoopStop,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = `step_loop_${stop}`;
  }
}

/**
 * A failure outside the step's own work — the bus down, the process shutting down — met by a tool. The Claude
 * loop does not hand it to the model as a tool error (the model would only work around it): it ends the loop with
 * this error, its transcript kept, so the step is delivered again and resumes where it was. The services' errors
 * for such failures extend it (the specialist's `RetryableError`).
 */
export class RetryableStepError extends Error {
  readonly code: string = "retryable";
  override readonly name: string = "RetryableStepError";
}

/** True when `err`, or an error in its `cause` chain, is a RetryableStepError. */
export function isRetryableStepError(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; cur instanceof Error && depth < 10; depth++) {
    if (cur instanceof RetryableStepError) return true;
    cur = cur.cause;
  }
  return false;
}

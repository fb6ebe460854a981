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

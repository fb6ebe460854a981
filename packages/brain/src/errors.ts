import type { Usage } from "@mllead/contracts";
import { codedError } from "@mllead/service-kit";
import { type BrainCall, callName, callNoun } from "./claude/call-nouns.js";

/**
 * Every error the brain throws, one code each (fastify's `lib/errors.js` table, bolt's `ErrorCode`). A code is
 * stable: step failures, the tech lead's brain-failure records and logs carry it, so it never changes meaning.
 * The services' retryable errors extend `RetryableStepError` with codes of their own.
 */
export const BrainErrorCode = {
  /** A brain that cannot be used in this configuration (e.g. the Claude brain before it is wired in). */
  BrainUnavailable: "brain_unavailable",
  /** A shipped job script that cannot be read (the `jobs/` directory is missing or incomplete). */
  JobScriptMissing: "job_script_missing",
  /** An agent file the Claude brain needs is missing. */
  AgentMissing: "agent_missing",
  /** The offline planner produced a plan that breaks the ordering rules (a bug, never expected). */
  OfflinePlanInvalid: "offline_plan_invalid",
  /** A tool call the model can fix: its message goes back to the model as an error result. */
  ToolInput: "tool_input",
  /** A tool the step's agent may not use (its `tools:` line leaves it out). */
  ToolNotAllowed: "tool_not_allowed",
  /** A search stopped before it finished: its deadline passed, the step was stopped, or the worker failed. */
  GrepStopped: "grep_stopped",
  /** A failure outside the step's own work met by a tool: the step is delivered again and resumes. */
  Retryable: "retryable",
  /** A step's tool loop ran out of iterations before FinishStep. */
  StepLoopIterations: "step_loop_iterations",
  /** A step's tool loop ran out of token budget before FinishStep. */
  StepLoopBudget: "step_loop_budget",
  /** A step's tool loop ran out of time before FinishStep. */
  StepLoopTime: "step_loop_time",
  /** Claude declined inside a step's tool loop. */
  StepLoopRefusal: "step_loop_refusal",
  /** A step's tool loop ended without FinishStep for another reason. */
  StepLoopUnfinished: "step_loop_unfinished",
  /** Claude declined (stop reason `refusal`) on every try, the repair rounds included. */
  ClaudeRefused: "claude_refused",
  /** Claude's answer was cut at the output limit (stop reason `max_tokens`) on every try. */
  ClaudeOutputCut: "claude_output_cut",
  /** Claude's answer did not fit the format after the repair rounds. */
  ClaudeBadOutput: "claude_bad_output",
  /** Claude could not produce a plan that passes the team's rules after the repair rounds. */
  PlanRejected: "plan_rejected",
  /** Claude stayed overloaded, rate-limited or unreachable through the retries. */
  BrainTransient: "brain_transient",
  /** The API refused the request itself (a bad key, no permission, an unknown model, an invalid request). */
  ClaudeRequestRejected: "claude_request_rejected",
} as const;
export type BrainErrorCode = (typeof BrainErrorCode)[keyof typeof BrainErrorCode];

/** The stable codes of ClaudeCallError and its subclasses. */
type ClaudeCallErrorCode = (typeof BrainErrorCode)[
  | "ClaudeRefused"
  | "ClaudeOutputCut"
  | "ClaudeBadOutput"
  | "PlanRejected"
  | "BrainTransient"
  | "ClaudeRequestRejected"];

/**
 * The base of the brain's errors: a stable `code` (from `BrainErrorCode`, or a service's own table for the
 * services' subclasses of `RetryableStepError`), `name` set, `cause` kept. The plain ones are `codedError`s of it,
 * built as `new ToolInputError(message, { cause })`.
 */
export abstract class BrainError extends Error {
  abstract readonly code: string;
  override readonly name: string = "BrainError";
}

/** A brain that cannot be used in this configuration (e.g. the Claude brain before it is wired in). */
export const BrainUnavailableError = codedError(BrainError, BrainErrorCode.BrainUnavailable, "BrainUnavailableError");
export type BrainUnavailableError = InstanceType<typeof BrainUnavailableError>;
/** An agent file the Claude brain needs is missing. */
export const MissingAgentError = codedError(BrainError, BrainErrorCode.AgentMissing, "MissingAgentError");
/** Raised when the offline planner produced a plan that breaks the ordering rules (a bug, never expected). */
export const OfflinePlanInvalidError = codedError(BrainError, BrainErrorCode.OfflinePlanInvalid, "OfflinePlanInvalidError");
/** A tool call the model can fix: its message goes back to the model as an error result. */
export const ToolInputError = codedError(BrainError, BrainErrorCode.ToolInput, "ToolInputError");
/** A tool the step's agent may not use (its `tools:` line leaves it out). */
export const ToolNotAllowedError = codedError(BrainError, BrainErrorCode.ToolNotAllowed, "ToolNotAllowedError");
/** The search stopped before it finished: its deadline passed, the step was stopped, or the worker failed. */
export const GrepStoppedError = codedError(BrainError, BrainErrorCode.GrepStopped, "GrepStoppedError");

/** A shipped job script that cannot be read (the `jobs/` directory is missing or incomplete). */
export class JobScriptMissingError extends BrainError {
  override readonly code = BrainErrorCode.JobScriptMissing;
  override readonly name = "JobScriptMissingError";
  constructor(
    readonly script: string,
    options?: ErrorOptions,
  ) {
    super(`shipped job script '${script}' cannot be read`, options);
  }
}

/** Why a step's tool loop ended without a result. */
type StepLoopStop = "iterations" | "budget" | "time" | "refusal" | "unfinished";

/** A step's Claude tool loop ended without FinishStep: the step fails with this message. */
export class StepLoopError extends BrainError {
  override readonly code: `step_loop_${StepLoopStop}`;
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
export class RetryableStepError extends BrainError {
  override readonly code: string = BrainErrorCode.Retryable;
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

/**
 * A tech-lead call to Claude (plan, revision, summary) that ended without a usable answer after its repair
 * rounds. `message` is written for the Slack thread (what happened, what to do); `detail` holds the
 * technical particulars for the log; `retryable` says whether asking again, unchanged, may work.
 */
export class ClaudeCallError extends BrainError {
  override readonly name: string = "ClaudeCallError";
  /** Technical particulars (every problem, the stop reason, the status), for the log. */
  readonly detail: string;
  constructor(
    override readonly code: ClaudeCallErrorCode,
    readonly call: BrainCall,
    message: string,
    readonly retryable: boolean,
    options: ErrorOptions & { detail?: string } = {},
  ) {
    super(message, options);
    this.detail = options.detail ?? message;
  }
}

/** Claude declined (stop reason `refusal`) on every try, the repair rounds included. */
export class ClaudeRefusedError extends ClaudeCallError {
  override readonly name = "ClaudeRefusedError";
  constructor(call: BrainCall, tries: number, options: ErrorOptions & { detail?: string } = {}) {
    super(
      BrainErrorCode.ClaudeRefused,
      call,
      `Claude declined to write ${callNoun(call)} for this task (${tries} ${tries === 1 ? "try" : "tries"}). Rephrase the request, then retry.`,
      true,
      options,
    );
  }
}

/** Claude's answer was cut at the output limit (stop reason `max_tokens`) on every try. */
export class ClaudeOutputCutError extends ClaudeCallError {
  override readonly name = "ClaudeOutputCutError";
  constructor(call: BrainCall, tries: number, maxTokens: number, options: ErrorOptions & { detail?: string } = {}) {
    super(
      BrainErrorCode.ClaudeOutputCut,
      call,
      `Claude's ${callName(call)} was cut off at the output limit on every try (${tries}, the last allowed ${maxTokens} tokens). Retry, or split the task into smaller ones.`,
      true,
      options,
    );
  }
}

/**
 * Claude's answer did not fit the format after the repair rounds: not JSON, or breaking the schema's own
 * constraints (an id with a space, a 151-character title), which the API does not enforce.
 */
export class ClaudeBadOutputError extends ClaudeCallError {
  override readonly name = "ClaudeBadOutputError";
  constructor(call: BrainCall, message: string, options: ErrorOptions & { detail?: string } = {}) {
    super(BrainErrorCode.ClaudeBadOutput, call, message, true, options);
  }
}

/** Claude could not produce a plan that passes the team's rules (`validatePlan`) after the repair rounds. */
export class PlanRejectedError extends ClaudeCallError {
  override readonly name = "PlanRejectedError";
  constructor(call: BrainCall, message: string, options: ErrorOptions & { detail?: string } = {}) {
    super(BrainErrorCode.PlanRejected, call, message, true, options);
  }
}

/**
 * Claude stayed overloaded, rate-limited or unreachable (429, 529, 5xx, timeouts, dropped connections) through
 * the SDK's retries and ours. Nothing about the task is wrong: retry it later, without spending a re-plan.
 * `retryAfterMs` is the API's own hint, when it gave one.
 */
export class TransientBrainError extends ClaudeCallError {
  override readonly name = "TransientBrainError";
  constructor(
    call: BrainCall,
    message: string,
    readonly retryAfterMs: number | undefined,
    options: ErrorOptions & { detail?: string } = {},
  ) {
    super(BrainErrorCode.BrainTransient, call, message, true, options);
  }
}

/**
 * The API refused the request itself (a bad key, no permission, an unknown model, an invalid request): asking
 * again unchanged will fail the same way; the configuration needs a look. `status` is the HTTP status.
 */
export class ClaudeRequestError extends ClaudeCallError {
  override readonly name = "ClaudeRequestError";
  constructor(
    call: BrainCall,
    readonly status: number | undefined,
    message: string,
    options: ErrorOptions & { detail?: string } = {},
  ) {
    super(BrainErrorCode.ClaudeRequestRejected, call, message, false, options);
  }
}

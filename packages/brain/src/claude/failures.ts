/** Which Claude call failed: the tech lead's plan, revision, summary or lesson, or a specialist's step loop. */
export type BrainCall = "plan" | "revision" | "summary" | "lesson" | "step";

/** The stable codes of ClaudeCallError and its subclasses. */
export type ClaudeCallErrorCode =
  | "claude_refused"
  | "claude_output_cut"
  | "claude_bad_output"
  | "plan_rejected"
  | "brain_transient"
  | "claude_request_rejected";

/** What the call would have produced, for people: "a plan", "a revised plan", "the summary". */
export function callNoun(call: BrainCall): string {
  switch (call) {
    case "plan":
      return "a plan";
    case "revision":
      return "a revised plan";
    case "summary":
      return "the summary";
    case "lesson":
      return "a lesson";
    case "step":
      return "a result for the step";
    default: {
      const never: never = call;
      return String(never);
    }
  }
}

/**
 * A tech-lead call to Claude (plan, revision, summary) that ended without a usable answer after its repair
 * rounds. `message` is written for the Slack thread (what happened, what to do); `detail` holds the
 * technical particulars for the log; `retryable` says whether asking again, unchanged, may work.
 */
export class ClaudeCallError extends Error {
  override readonly name: string = "ClaudeCallError";
  /** Technical particulars (every problem, the stop reason, the status), for the log. */
  readonly detail: string;
  constructor(
    readonly code: ClaudeCallErrorCode,
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
      "claude_refused",
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
      "claude_output_cut",
      call,
      `Claude's ${callNoun(call).replace(/^(a|the) /, "")} was cut off at the output limit on every try (${tries}, the last allowed ${maxTokens} tokens). Retry, or split the task into smaller ones.`,
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
    super("claude_bad_output", call, message, true, options);
  }
}

/** Claude could not produce a plan that passes the team's rules (`validatePlan`) after the repair rounds. */
export class PlanRejectedError extends ClaudeCallError {
  override readonly name = "PlanRejectedError";
  constructor(call: BrainCall, message: string, options: ErrorOptions & { detail?: string } = {}) {
    super("plan_rejected", call, message, true, options);
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
    super("brain_transient", call, message, true, options);
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
    super("claude_request_rejected", call, message, false, options);
  }
}

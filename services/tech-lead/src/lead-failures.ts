import { ClaudeCallError, ClaudeRequestError, callNoun, TransientBrainError } from "@mllead/brain";
import type { BrainFailure, LeadCall, TaskRecord, Usage } from "@mllead/contracts";
import { countUsage } from "./cost.js";
import { pushEvent, pushUpdated } from "./outbox.js";
import { draft } from "./task-draft.js";

/**
 * Every failed Claude call of the tech lead has an answer. A call worth asking again (a refusal, a cut or
 * malformed answer, a plan that kept breaking the rules, an API that stayed overloaded) leaves the task
 * where it is and says so in the thread: an overloaded API is retried by itself a few times, later; the
 * rest wait for a person's `retry`. None of it spends a re-plan. A request the API refuses outright (a
 * bad key, an unknown model) cannot work until the configuration is fixed, so the task fails with that.
 */

/** How the tech lead retries an overloaded or unreachable API by itself, on top of the brain's own retries. */
export interface LeadRetryPolicy {
  /** Automatic retries of one call before a person is asked. Default 3. */
  autoRetries: number;
  /** The first wait in ms, doubled each time; a longer `retry-after` from the API wins. Default 60 s. */
  baseDelayMs: number;
  /** The longest wait in ms. Default 10 minutes. */
  maxDelayMs: number;
}

export const DEFAULT_LEAD_RETRY: LeadRetryPolicy = { autoRetries: 3, baseDelayMs: 60_000, maxDelayMs: 600_000 };

/**
 * The failure to keep when `err` is worth asking again (then the task waits), or undefined when it is not
 * (a rejected request, or an error that is not Claude's: the caller fails the task or falls back).
 */
export function waitableFailure(
  call: LeadCall,
  err: unknown,
  previous: BrainFailure | undefined,
  now: string,
  policy: LeadRetryPolicy = DEFAULT_LEAD_RETRY,
): BrainFailure | undefined {
  if (!(err instanceof ClaudeCallError) || err instanceof ClaudeRequestError || !err.retryable) return undefined;
  const attempts = (previous?.call === call ? previous.attempts : 0) + 1;
  const failure: BrainFailure = { call, code: err.code, message: err.message.slice(0, 2000), attempts, at: now };
  if (err instanceof TransientBrainError && attempts <= policy.autoRetries) {
    const backoff = Math.min(policy.baseDelayMs * 2 ** (attempts - 1), policy.maxDelayMs);
    const wait = Math.min(Math.max(err.retryAfterMs ?? 0, backoff), policy.maxDelayMs);
    failure.retryAt = new Date(Date.parse(now) + wait).toISOString();
    failure.message = `Claude is overloaded or unreachable, so there is no ${callNoun(call).replace(/^(a|the) /, "")} yet (try ${attempts} of ${policy.autoRetries + 1} failed).`;
  }
  return failure;
}

/** Why the task fails when a call's error is not worth asking again. */
export function failureReason(call: LeadCall, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof ClaudeRequestError ? message : `I could not write ${callNoun(call)}: ${message}`;
}

/** The task keeps its state and waits for the retry: `task.brain_failed` says what happened and how it goes on. */
export function awaitRetry(current: TaskRecord, failure: BrainFailure, usage: Usage | undefined, now: string): TaskRecord {
  const task = draft(current);
  countUsage(task, usage);
  task.brainFailure = failure;
  pushEvent(
    task,
    {
      type: "task.brain_failed",
      call: failure.call,
      code: failure.code,
      message: failure.message,
      attempt: failure.attempts,
      ...(failure.retryAt ? { retryAt: failure.retryAt } : {}),
    },
    now,
  );
  pushUpdated(task, now);
  return task;
}

/** The call worked (or is about to be applied): its usage counted, the failure it answered forgotten. */
export function settled(current: TaskRecord, usage: Usage | undefined): TaskRecord {
  const task = draft(current);
  countUsage(task, usage);
  delete task.brainFailure;
  return task;
}

/** True when the task may call the brain now: no failure waits, or its automatic retry is due. */
export function brainCallDue(task: TaskRecord, now: string): boolean {
  const f = task.brainFailure;
  return !f || (f.retryAt !== undefined && Date.parse(f.retryAt) <= Date.parse(now));
}

/**
 * A person's `retry`: the failed call runs again at once (the caller drives the task next). Returns the
 * task, or why there is nothing to retry.
 */
export function retryCall(current: TaskRecord, userId: string, now: string): TaskRecord | string {
  const f = current.brainFailure;
  if (!f) return "There is nothing to retry: no plan or summary of this task is waiting on Claude.";
  const task = draft(current);
  delete task.brainFailure;
  pushEvent(task, { type: "task.retrying", call: f.call, userId }, now);
  return task;
}

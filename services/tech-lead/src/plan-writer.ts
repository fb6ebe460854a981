import type { Brain } from "@mllead/brain";
import { PayloadTooLargeError } from "@mllead/bus";
import { type LeadCall, type Plan, type TaskRecord, type Usage, validatePlan } from "@mllead/contracts";
import type { Logger } from "pino";
import type { Histogram } from "prom-client";
import { withUsage } from "./cost.js";
import { awaitRetry, failureReason, type LeadRetryPolicy, settled, waitableFailure } from "./lead-failures.js";
import type { Lessons } from "./lessons.js";
import { applyPlan, failTask, needsPlan } from "./orchestrator.js";
import type { RetryTimers } from "./retry-timers.js";
import { type PlanContext, withContextAssumption } from "./scout-context.js";
import type { UpdateTask } from "./task-update.js";

/** What the plan writer works with. */
export interface PlanWriterDeps {
  brain: Pick<Brain, "kind" | "plan">;
  /** The repository's context for a plan: the scout's report, or why there is none (never throws). */
  scout: (taskId: string, log: Logger) => Promise<PlanContext>;
  lessons: Pick<Lessons, "forPlan">;
  update: UpdateTask;
  retries: Pick<RetryTimers, "armFor">;
  /** `mllead_plan_duration_seconds`. */
  planSeconds: Histogram<"brain" | "outcome">;
  leadRetry: LeadRetryPolicy;
  now: () => string;
  log: Logger;
}

/**
 * Writes a task's plan, or its revision after a person asked for changes: asks the brain with the
 * repository's context and the channel's lessons, then stores the plan for approval. A failed call
 * leaves the task waiting for a retry where one is worth it and fails it otherwise; a plan that
 * breaks the team's rules or is too large to store fails the task with the reason.
 */
export function planWriter(deps: PlanWriterDeps): (task: TaskRecord) => Promise<void> {
  const { brain, update, now } = deps;

  /** Asks the brain; `onUsage` hears the tokens of every request, repair rounds and failed tries included. */
  async function ask(task: TaskRecord, log: Logger, onUsage: (u: Usage) => void): Promise<Plan> {
    const previous = task.state === "revising" ? task.plan : undefined;
    // Without the scout's report the plan says what it assumed.
    const context = await deps.scout(task.id, log);
    const plan = await brain.plan({
      taskId: task.id,
      text: task.text,
      requester: task.requester,
      ...("report" in context ? { context: context.report } : { contextMissing: context.missing }),
      lessons: await deps.lessons.forPlan(task),
      ...(previous ? { previous: { plan: previous, feedback: task.feedback.map((f) => f.text) } } : {}),
      onUsage,
    });
    return withContextAssumption(plan, context);
  }

  /** The call failed: the task waits for its retry when the error is worth one, and fails otherwise. */
  async function failed(task: TaskRecord, call: LeadCall, err: unknown, spent: Usage | undefined): Promise<void> {
    const failure = waitableFailure(call, err, task.brainFailure, now(), deps.leadRetry);
    const updated = await update(task.id, (t) => {
      if (!needsPlan(t)) return spent ? withUsage(t, spent) : null;
      if (failure) return awaitRetry(t, failure, spent, now());
      return failTask(withUsage(t, spent), failureReason(call, err), now());
    });
    deps.retries.armFor(updated);
  }

  /** Stores the plan for approval; false when it broke the rules or was too large (the task failed). */
  async function keep(task: TaskRecord, plan: Plan, spent: Usage | undefined, log: Logger): Promise<boolean> {
    const problems = validatePlan(plan);
    if (problems.length > 0) {
      log.error({ problems }, "the brain produced an invalid plan");
      const reason = `The plan broke the team's rules: ${problems.map((p) => p.message).join("; ")}`;
      await update(task.id, (t) => (needsPlan(t) ? failTask(t, reason, now()) : null));
      return false;
    }
    try {
      await update(task.id, (t) =>
        needsPlan(t) ? applyPlan(settled(t, spent), plan, now()) : spent ? withUsage(t, spent) : null,
      );
      return true;
    } catch (err) {
      if (!(err instanceof PayloadTooLargeError)) throw err;
      // Retrying would write the same plan again: refuse it, in the thread, instead.
      log.error({ err }, "the plan is too large to store");
      const reason = `The plan was too large to keep (${err.bytes} bytes with the task, the limit is ${err.limit}); ask for a smaller plan.`;
      await update(task.id, (t) => (needsPlan(t) ? failTask(t, reason, now()) : null));
      return false;
    }
  }

  return async function writePlan(task: TaskRecord): Promise<void> {
    const log = deps.log.child({ taskId: task.id });
    const call: LeadCall = task.state === "revising" && task.plan !== undefined ? "revision" : "plan";
    const timer = deps.planSeconds.startTimer({ brain: brain.kind });
    let spent: Usage | undefined;
    let plan: Plan;
    try {
      plan = await ask(task, log, (u) => {
        spent = u;
      });
      timer({ outcome: "ok" });
    } catch (err) {
      timer({ outcome: "error" });
      log.error({ err }, "planning failed");
      await failed(task, call, err, spent);
      return;
    }
    if (await keep(task, plan, spent, log)) {
      log.info({ revision: task.revision + 1, steps: plan.steps.length }, "plan posted for approval");
    }
  };
}

import type { Brain } from "@mllead/brain";
import type { Plan, TaskRecord, UpstreamResult, Usage } from "@mllead/contracts";
import type { Logger } from "pino";
import { awaitRetry, failureReason, type LeadRetryPolicy, settled, waitableFailure } from "./lead-failures.js";
import { completeTask, needsSummary } from "./orchestrator.js";
import type { RetryTimers } from "./retry-timers.js";
import type { UpdateTask } from "./task-update.js";

/** What the summary writer works with. */
export interface SummaryWriterDeps {
  brain: Pick<Brain, "summarize">;
  update: UpdateTask;
  retries: Pick<RetryTimers, "armFor">;
  leadRetry: LeadRetryPolicy;
  now: () => string;
  log: Logger;
}

/** The results of a task's finished steps, in plan order. */
export function upstreamResults(task: TaskRecord, plan: Plan): UpstreamResult[] {
  return plan.steps.flatMap((s) => {
    const r = task.steps[s.id]?.result;
    return r ? [{ stepId: s.id, role: s.role, title: s.title, result: r }] : [];
  });
}

/** The summary a task closes with when the brain could not write one: why, then each step's own result. */
export function fallbackSummary(err: unknown, results: readonly UpstreamResult[]): string {
  return [
    `${failureReason("summary", err).replace(/\.?$/, ".")} Here are the steps' own results:`,
    ...results.map((r) => `• ${r.title}: ${r.result.summary}`),
  ].join("\n");
}

/**
 * Writes the summary a finished task closes with. A failed call worth retrying leaves the task waiting
 * (the work is done and kept; only the summary waits); any other failure closes the task with the
 * steps' own results.
 */
export function summaryWriter(deps: SummaryWriterDeps): (task: TaskRecord) => Promise<void> {
  const { brain, update, now } = deps;
  return async function writeSummary(task: TaskRecord): Promise<void> {
    const log = deps.log.child({ taskId: task.id });
    const plan = task.plan as Plan;
    const results = upstreamResults(task, plan);
    const verdict = results.find((r) => r.role === "code-reviewer")?.result.verdict;
    let summary: string;
    let spent: Usage | undefined;
    try {
      summary = await brain.summarize({
        taskId: task.id,
        text: task.text,
        plan,
        results,
        ...(verdict ? { verdict } : {}),
        onUsage: (u) => {
          spent = u;
        },
      });
    } catch (err) {
      const failure = waitableFailure("summary", err, task.brainFailure, now(), deps.leadRetry);
      if (failure) {
        log.error({ err }, "summary failed; waiting for a retry");
        deps.retries.armFor(await update(task.id, (t) => (needsSummary(t) ? awaitRetry(t, failure, spent, now()) : null)));
        return;
      }
      log.error({ err }, "summary failed; closing with the step results alone");
      summary = fallbackSummary(err, results);
    }
    await update(task.id, (t) => (needsSummary(t) ? completeTask(settled(t, spent), summary, now()) : null));
  };
}

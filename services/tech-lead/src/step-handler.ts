import type { MessageContext } from "@mllead/bus";
import type { TaskEvent } from "@mllead/contracts";
import type { KeyedQueue } from "@mllead/service-kit";
import { withUsage } from "./cost.js";
import type { Lessons } from "./lessons.js";
import { applyStepEvent, type Policy } from "./orchestrator.js";
import { ignoredReport, isStepReport, type StepReport, subjectMismatch } from "./step-reports.js";
import type { UpdateTask } from "./task-update.js";

/** What the step handler works with. */
export interface StepHandlerDeps {
  queue: KeyedQueue;
  update: UpdateTask;
  lessons: Pick<Lessons, "afterStepEvent">;
  policy: Policy;
  /** Plans or summarises what the task waits for; called in the task's queue. */
  drive: (taskId: string) => Promise<void>;
  now: () => string;
}

/** Says in the log what the tech lead ignored and why (a forged, stale or repeated report). */
function ignoredInLog(evt: TaskEvent, reason: string, ctx: MessageContext): void {
  const about =
    "stepId" in evt ? { stepId: evt.stepId, ...("attempt" in evt ? { attempt: evt.attempt, role: evt.role } : {}) } : {};
  ctx.log.warn({ taskId: evt.taskId, ...about, event: evt.type, eventId: evt.eventId, reason }, "ignored a step report");
}

/**
 * The handler of the specialists' reports (`tech-lead-results`): a report about a step attempt the tech
 * lead dispatched is applied in its task's queue, learnt from (a review that starts a fix round) and the
 * task driven on; anything else is said in the log and dropped (see `subjectMismatch`, `ignoredReport`).
 */
export function stepHandler(deps: StepHandlerDeps): (evt: TaskEvent, ctx: MessageContext) => Promise<void> {
  const { update, policy, now } = deps;

  async function apply(evt: Exclude<StepReport, { type: "step.progress" }>, ctx: MessageContext): Promise<void> {
    let wasProcess = false;
    // Stays as it is when there is no record to judge against.
    const verdict: { ignored: string | null } = { ignored: "no such task" };
    const updated = await update(evt.taskId, (t) => {
      wasProcess = t.sandbox?.mode === "process";
      verdict.ignored = ignoredReport(t, evt);
      return verdict.ignored ? null : applyStepEvent(t, evt, policy, now());
    });
    if (verdict.ignored) {
      ignoredInLog(evt, verdict.ignored, ctx);
      return;
    }
    if (updated)
      ctx.log.info({ taskId: evt.taskId, stepId: evt.stepId, event: evt.type, state: updated.state }, "step report applied");
    const learnt = await deps.lessons.afterStepEvent(evt, updated);
    if (learnt) await update(evt.taskId, (t) => withUsage(t, learnt));
    if (updated?.sandbox?.mode === "process" && !wasProcess) {
      ctx.log.warn(
        { taskId: evt.taskId, stepId: evt.stepId, warning: updated.sandbox.warning },
        "a step runs in the process sandbox",
      );
    }
    await deps.drive(evt.taskId);
  }

  return (evt, ctx) => {
    const mismatch = subjectMismatch(ctx.subject, evt);
    if (mismatch || !isStepReport(evt)) {
      ignoredInLog(evt, mismatch ?? `a ${evt.type} is not a step report`, ctx);
      return Promise.resolve();
    }
    if (evt.type === "step.progress") return Promise.resolve();
    return deps.queue.run(evt.taskId, () => apply(evt, ctx));
  };
}

import { currentTrace, InvalidMessageError, type MessageContext } from "@mllead/bus";
import { SUBJECTS, TaskCreate, TaskDecide } from "@mllead/contracts";
import { formatIssues, type KeyedQueue } from "@mllead/service-kit";
import type { z } from "zod";
import { withBudget, withUsage } from "./cost.js";
import type { Lessons } from "./lessons.js";
import { applyDecision, createTask, type Policy } from "./orchestrator.js";
import type { TaskStore } from "./task-store.js";
import type { UpdateTask } from "./task-update.js";

/** What the command handler works with. */
export interface CommandHandlerDeps {
  queue: KeyedQueue;
  store: Pick<TaskStore, "create">;
  update: UpdateTask;
  lessons: Pick<Lessons, "afterDecision">;
  policy: Policy;
  /** Plans or summarises what the task waits for; called in the task's queue. */
  drive: (taskId: string) => Promise<void>;
  now: () => string;
}

/** The payload as `schema` reads it, or an InvalidMessageError (the bus sets the message aside at once). */
function parse<S extends z.ZodType>(schema: S, payload: unknown, subject: string): z.output<S> {
  const r = schema.safeParse(payload);
  if (!r.success) throw new InvalidMessageError(subject, formatIssues(r.error));
  return r.data;
}

/**
 * The handler of `mllead.cmd.>`: a new task is stored and planned; a decision (approve, request changes,
 * cancel, retry, go on) is applied, learnt from, and the task driven on. Each command is parsed first and
 * applied in its task's queue (no await before `queue.run`, so a task's commands queue in the order they
 * were delivered).
 */
export function commandHandler(deps: CommandHandlerDeps): (payload: unknown, ctx: MessageContext) => Promise<void> {
  const { queue, update, policy, now } = deps;

  function onCreate(cmd: TaskCreate, ctx: MessageContext): Promise<void> {
    return queue.run(cmd.taskId, async () => {
      // The mention's trace, kept on the record: what happens to the task after a person's approval or a
      // restart joins it (the record outlives any in-memory context).
      const trace = currentTrace();
      const task = await deps.store.create(withBudget({ ...createTask(cmd, now()), ...(trace ? { trace } : {}) }, policy));
      ctx.log.info({ taskId: task.id, state: task.state }, "task received");
      await deps.drive(task.id);
    });
  }

  function onDecide(cmd: TaskDecide, ctx: MessageContext): Promise<void> {
    return queue.run(cmd.taskId, async () => {
      const updated = await update(cmd.taskId, (t) => applyDecision(t, cmd, policy, now()));
      if (!updated) {
        ctx.log.warn({ taskId: cmd.taskId }, "decision for an unknown task");
        return;
      }
      ctx.log.info({ taskId: cmd.taskId, decision: cmd.decision, state: updated.state }, "decision applied");
      // What learning from the change cost (a Claude call) counts towards the task.
      const learnt = await deps.lessons.afterDecision(cmd, updated);
      if (learnt) await update(cmd.taskId, (t) => withUsage(t, learnt));
      await deps.drive(cmd.taskId);
    });
  }

  return (payload, ctx) => {
    if (ctx.subject === SUBJECTS.taskCreate) return onCreate(parse(TaskCreate, payload, ctx.subject), ctx);
    if (ctx.subject === SUBJECTS.taskDecide) return onDecide(parse(TaskDecide, payload, ctx.subject), ctx);
    throw new InvalidMessageError(ctx.subject, "no command is defined on this subject");
  };
}

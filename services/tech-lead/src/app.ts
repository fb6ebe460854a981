import type { Brain } from "@mllead/brain";
import { type Bus, InvalidMessageError, type MessageContext } from "@mllead/bus";
import {
  CONSUMERS,
  isTerminal,
  type Plan,
  StatusQuery,
  StatusReply,
  SUBJECTS,
  TaskCreate,
  TaskDecide,
  TaskEvent,
  type TaskRecord,
  toTaskView,
  type UpstreamResult,
  validatePlan,
} from "@mllead/contracts";
import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import { z } from "zod";
import {
  applyDecision,
  applyPlan,
  applyStepEvent,
  completeTask,
  createTask,
  failTask,
  needsPlan,
  needsSummary,
  type Policy,
} from "./orchestrator.js";
import { TaskStore } from "./task-store.js";

export interface TechLeadDeps {
  bus: Bus;
  brain: Brain;
  policy: Policy;
  log: Logger;
  /** Where the tech lead's Prometheus metrics go (none when omitted). */
  registry?: Registry;
  /** Clock, injectable for tests. */
  now?: () => string;
}

export interface TechLead {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Plans or summarises whatever a task is waiting for (also used to resume after a crash). */
  drive(taskId: string): Promise<void>;
  store: TaskStore;
}

/** Builds the tech lead: the planner and orchestrator, sole writer of task state. */
export async function buildTechLead(deps: TechLeadDeps): Promise<TechLead> {
  const { bus, brain, policy, log } = deps;
  const now = deps.now ?? (() => new Date().toISOString());
  const store = await TaskStore.open(bus, log);
  const consumptions: { stop(): Promise<void> }[] = [];
  const registers = deps.registry ? [deps.registry] : [];
  const planSeconds = new Histogram({
    name: "mllead_plan_duration_seconds",
    help: "Time the brain took to write a plan or a revision",
    labelNames: ["brain", "outcome"],
    buckets: [0.01, 0.05, 0.25, 1, 5, 15, 30, 60, 120],
    registers,
  });
  const transitions = new Counter({
    name: "mllead_task_transitions_total",
    help: "Task state changes, by the state entered",
    labelNames: ["state"],
    registers,
  });

  /** Applies a change and counts the state it leads to. */
  async function update(id: string, fn: (t: TaskRecord) => TaskRecord | null): Promise<TaskRecord | null> {
    let before: TaskRecord["state"] | undefined;
    const out = await store.update(id, (t) => {
      before = t.state;
      return fn(t);
    });
    if (out && out.state !== before) transitions.inc({ state: out.state });
    return out;
  }

  async function writePlan(task: TaskRecord): Promise<void> {
    const tlog = log.child({ taskId: task.id });
    let plan: Plan;
    const timer = planSeconds.startTimer({ brain: brain.kind });
    try {
      plan = await brain.plan({
        taskId: task.id,
        text: task.text,
        requester: task.requester,
        ...(task.state === "revising" && task.plan
          ? { previous: { plan: task.plan, feedback: task.feedback.map((f) => f.text) } }
          : {}),
      });
      timer({ outcome: "ok" });
    } catch (err) {
      timer({ outcome: "error" });
      tlog.error({ err }, "planning failed");
      await update(task.id, (t) =>
        needsPlan(t) ? failTask(t, `I could not write a plan: ${(err as Error).message}`, now()) : null,
      );
      return;
    }
    const problems = validatePlan(plan);
    if (problems.length > 0) {
      tlog.error({ problems }, "the brain produced an invalid plan");
      await update(task.id, (t) =>
        needsPlan(t) ? failTask(t, `The plan broke the team's rules: ${problems.map((p) => p.message).join("; ")}`, now()) : null,
      );
      return;
    }
    await update(task.id, (t) => (needsPlan(t) ? applyPlan(t, plan, now()) : null));
    tlog.info({ revision: task.revision + 1, steps: plan.steps.length }, "plan posted for approval");
  }

  async function writeSummary(task: TaskRecord): Promise<void> {
    const plan = task.plan as Plan;
    const results: UpstreamResult[] = plan.steps.flatMap((s) => {
      const r = task.steps[s.id]?.result;
      return r ? [{ stepId: s.id, role: s.role, title: s.title, result: r }] : [];
    });
    const verdict = results.find((r) => r.role === "code-reviewer")?.result.verdict;
    let summary: string;
    try {
      summary = await brain.summarize({ taskId: task.id, text: task.text, plan, results, ...(verdict ? { verdict } : {}) });
    } catch (err) {
      log.error({ err, taskId: task.id }, "summary failed; closing with the step results alone");
      summary = results.map((r) => `• ${r.title}: ${r.result.summary}`).join("\n");
    }
    await update(task.id, (t) => (needsSummary(t) ? completeTask(t, summary, now()) : null));
  }

  async function drive(taskId: string): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const task = await store.get(taskId);
      if (!task) return;
      if (needsPlan(task)) await writePlan(task);
      else if (needsSummary(task)) await writeSummary(task);
      else return;
    }
  }

  async function onCommand(payload: unknown, ctx: MessageContext): Promise<void> {
    if (ctx.subject === SUBJECTS.taskCreate) {
      const cmd = parse(TaskCreate, payload, ctx.subject);
      const task = await store.create(createTask(cmd, now()));
      ctx.log.info({ taskId: task.id, state: task.state }, "task received");
      await drive(task.id);
      return;
    }
    if (ctx.subject === SUBJECTS.taskDecide) {
      const cmd = parse(TaskDecide, payload, ctx.subject);
      const updated = await update(cmd.taskId, (t) => applyDecision(t, cmd, policy, now()));
      if (!updated) {
        ctx.log.warn({ taskId: cmd.taskId }, "decision for an unknown task");
        return;
      }
      ctx.log.info({ taskId: cmd.taskId, decision: cmd.decision, state: updated.state }, "decision applied");
      await drive(cmd.taskId);
      return;
    }
    throw new InvalidMessageError(ctx.subject, "no command is defined on this subject");
  }

  async function onStepEvent(evt: TaskEvent, ctx: MessageContext): Promise<void> {
    if (evt.type !== "step.started" && evt.type !== "step.completed" && evt.type !== "step.failed") return;
    const updated = await update(evt.taskId, (t) => applyStepEvent(t, evt, policy, now()));
    if (updated)
      ctx.log.info({ taskId: evt.taskId, stepId: evt.stepId, event: evt.type, state: updated.state }, "step report applied");
    await drive(evt.taskId);
  }

  async function status(q: StatusQuery): Promise<StatusReply> {
    const tasks = (await store.all())
      .filter((t) => !q.channel || t.slack.channel === q.channel)
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    return {
      v: 1,
      ok: true,
      active: tasks.filter((t) => !isTerminal(t.state)).map(toTaskView),
      recent: tasks
        .filter((t) => isTerminal(t.state))
        .slice(0, q.recent)
        .map(toTaskView),
    };
  }

  /** After a crash: publish what was written but not sent, and finish interrupted planning or summaries. */
  async function recover(): Promise<void> {
    for (const t of await store.all()) {
      if (t.outbox.length > 0) await store.flush(t.id);
      if (!isTerminal(t.state)) await drive(t.id);
    }
  }

  return {
    store,
    drive,
    async start() {
      await recover();
      bus.serve(SUBJECTS.statusQuery, StatusQuery, StatusReply, status, (e) => ({
        v: 1 as const,
        ok: false as const,
        error: { code: e.code, message: e.message },
      }));
      consumptions.push(await bus.consume(CONSUMERS.techLeadCommands, z.unknown(), onCommand));
      consumptions.push(await bus.consume(CONSUMERS.techLeadResults, TaskEvent, onStepEvent));
    },
    async stop() {
      await Promise.all(consumptions.map((c) => c.stop()));
    },
  };
}

function parse<S extends z.ZodType>(schema: S, payload: unknown, subject: string): z.output<S> {
  const r = schema.safeParse(payload);
  if (!r.success) {
    throw new InvalidMessageError(
      subject,
      r.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
        .join("; "),
    );
  }
  return r.data;
}

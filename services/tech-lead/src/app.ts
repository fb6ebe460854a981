import type { Brain } from "@mllead/brain";
import { type Bus, InvalidMessageError, type MessageContext, PayloadTooLargeError, type SetAsideMessage } from "@mllead/bus";
import {
  CONSUMERS,
  type ConsumerSpec,
  isTerminal,
  LessonsQuery,
  LessonsReply,
  type Plan,
  StatusQuery,
  StatusReply,
  SUBJECTS,
  TaskCreate,
  TaskDecide,
  TaskEvent,
  type TaskRecord,
  type UpstreamResult,
  type Usage,
  validatePlan,
} from "@mllead/contracts";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { z } from "zod";
import { withBudget, withUsage } from "./cost.js";
import {
  awaitRetry,
  brainCallDue,
  DEFAULT_LEAD_RETRY,
  failureReason,
  type LeadRetryPolicy,
  settled,
  waitableFailure,
} from "./lead-failures.js";
import { Lessons } from "./lessons.js";
import { techLeadMetrics } from "./metrics.js";
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
import { RetryTimers } from "./retry-timers.js";
import { DEFAULT_SCOUT_TIMEOUT_MS, scoutContext, withContextAssumption } from "./scout-context.js";
import { threadTeller } from "./set-aside.js";
import { answerStatus } from "./status.js";
import { ignoredReport, isStepReport, subjectMismatch } from "./step-reports.js";
import { eachLimited, KeyedQueue } from "./task-queue.js";
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
  /** Commands and step reports handled at once; each task's stay one at a time, in order. Default 32. */
  concurrency?: number;
  /** Deliveries after which a message that keeps failing is set aside. Default 5. */
  setAsideAfter?: number;
  /** Delay before a failed message is redelivered, by delivery count (the bus's backoff when omitted). */
  backoffMs?: (deliveryCount: number) => number;
  /** How a plan or summary that met an overloaded Claude API is retried by itself (DEFAULT_LEAD_RETRY when omitted). */
  leadRetry?: Partial<LeadRetryPolicy>;
  /** How long a plan waits for the scout's report of the repository before it is written without (ms, default 15 s). */
  scoutTimeoutMs?: number;
}

/**
 * The tech lead's durable consumers for a concurrency: above 1 they allow many messages in
 * hand at once; at 1 they hand out one at a time across all replicas (strict order, as before).
 */
export function techLeadConsumers(concurrency: number): ConsumerSpec[] {
  return [CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults].map((c) =>
    concurrency === 1 ? { ...c, maxAckPending: 1 } : { ...c },
  );
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
  const concurrency = deps.concurrency ?? 32;
  const metrics = techLeadMetrics(deps.registry);
  // The store tells a quarantined task's thread through the teller, which writes through the store.
  const store = await TaskStore.open(bus, log, {
    onQuarantine: async (q) => {
      metrics.quarantined.inc();
      await tell.quarantined(q);
    },
  });
  const tell = threadTeller({ bus, store, log, now });
  const lessons = await Lessons.open(bus, brain, log, now);
  /** One task's messages, recovery and plans run one at a time, in order; different tasks run at once. */
  const queue = new KeyedQueue();
  let recovering: Promise<void> = Promise.resolve();
  // A scheduled automatic retry runs in its task's queue, like everything else about the task.
  const retries = new RetryTimers((id) => {
    queue.run(id, () => drive(id)).catch((err: unknown) => log.error({ err, taskId: id }, "could not retry a Claude call"));
  });
  const leadRetry = deps.leadRetry ? { ...DEFAULT_LEAD_RETRY, ...deps.leadRetry } : DEFAULT_LEAD_RETRY;
  const consumptions: { stop(): Promise<void> }[] = [];
  /** Applies a change and counts the state it leads to. */
  async function update(id: string, fn: (t: TaskRecord) => TaskRecord | null): Promise<TaskRecord | null> {
    let before: TaskRecord["state"] | undefined;
    const out = await store.update(id, (t) => {
      before = t.state;
      return fn(t);
    });
    if (out && out.state !== before) metrics.transitions.inc({ state: out.state });
    return out;
  }

  async function writePlan(task: TaskRecord): Promise<void> {
    const tlog = log.child({ taskId: task.id });
    let plan: Plan;
    const timer = metrics.planSeconds.startTimer({ brain: brain.kind });
    const revising = task.state === "revising" && task.plan !== undefined;
    const call = revising ? "revision" : "plan";
    // The tokens of every request the call made, repair rounds and failed tries included.
    let spent: Usage | undefined;
    // What the team's repository holds, read by a specialist-agent; without it the plan says what it assumed.
    const context = await scoutContext(bus, task.id, deps.scoutTimeoutMs ?? DEFAULT_SCOUT_TIMEOUT_MS, tlog);
    try {
      plan = await brain.plan({
        taskId: task.id,
        text: task.text,
        requester: task.requester,
        ...("report" in context ? { context: context.report } : { contextMissing: context.missing }),
        lessons: await lessons.forPlan(task),
        ...(revising && task.plan ? { previous: { plan: task.plan, feedback: task.feedback.map((f) => f.text) } } : {}),
        onUsage: (u) => {
          spent = u;
        },
      });
      plan = withContextAssumption(plan, context);
      timer({ outcome: "ok" });
    } catch (err) {
      timer({ outcome: "error" });
      tlog.error({ err }, "planning failed");
      const failure = waitableFailure(call, err, task.brainFailure, now(), leadRetry);
      const updated = await update(task.id, (t) => {
        if (!needsPlan(t)) return spent ? withUsage(t, spent) : null;
        if (failure) return awaitRetry(t, failure, spent, now());
        return failTask(withUsage(t, spent), failureReason(call, err), now());
      });
      armRetry(updated);
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
    try {
      await update(task.id, (t) =>
        needsPlan(t) ? applyPlan(settled(t, spent), plan, now()) : spent ? withUsage(t, spent) : null,
      );
    } catch (err) {
      if (!(err instanceof PayloadTooLargeError)) throw err;
      // Retrying would write the same plan again: refuse it, in the thread, instead.
      tlog.error({ err }, "the plan is too large to store");
      await update(task.id, (t) =>
        needsPlan(t)
          ? failTask(
              t,
              `The plan was too large to keep (${err.bytes} bytes with the task, the limit is ${err.limit}); ask for a smaller plan.`,
              now(),
            )
          : null,
      );
      return;
    }
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
      const failure = waitableFailure("summary", err, task.brainFailure, now(), leadRetry);
      if (failure) {
        // The work is done and kept; only the summary waits for a retry.
        log.error({ err, taskId: task.id }, "summary failed; waiting for a retry");
        armRetry(await update(task.id, (t) => (needsSummary(t) ? awaitRetry(t, failure, spent, now()) : null)));
        return;
      }
      log.error({ err, taskId: task.id }, "summary failed; closing with the step results alone");
      summary = [
        `${failureReason("summary", err).replace(/\.?$/, ".")} Here are the steps' own results:`,
        ...results.map((r) => `• ${r.title}: ${r.result.summary}`),
      ].join("\n");
    }
    await update(task.id, (t) => (needsSummary(t) ? completeTask(settled(t, spent), summary, now()) : null));
  }

  /** Schedules the task's automatic retry, when its record has one. */
  function armRetry(task: TaskRecord | null): void {
    const at = task?.brainFailure?.retryAt;
    if (task && at) retries.arm(task.id, at);
  }

  async function drive(taskId: string): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const task = await store.get(taskId);
      if (!task) return;
      // A failed call waits for its automatic retry (armed here, also after a restart) or for a person's `retry`.
      if (!isTerminal(task.state) && !brainCallDue(task, now())) {
        armRetry(task);
        return;
      }
      if (needsPlan(task)) await writePlan(task);
      else if (needsSummary(task)) await writeSummary(task);
      else return;
    }
  }

  /**
   * A command, applied in its task's queue: parsed first (no await before `queue.run`, so a task's
   * commands queue in the order they were delivered).
   */
  function onCommand(payload: unknown, ctx: MessageContext): Promise<void> {
    if (ctx.subject === SUBJECTS.taskCreate) {
      const cmd = parse(TaskCreate, payload, ctx.subject);
      return queue.run(cmd.taskId, async () => {
        const task = await store.create(withBudget(createTask(cmd, now()), policy));
        ctx.log.info({ taskId: task.id, state: task.state }, "task received");
        await drive(task.id);
      });
    }
    if (ctx.subject === SUBJECTS.taskDecide) {
      const cmd = parse(TaskDecide, payload, ctx.subject);
      return queue.run(cmd.taskId, async () => {
        const updated = await update(cmd.taskId, (t) => applyDecision(t, cmd, policy, now()));
        if (!updated) {
          ctx.log.warn({ taskId: cmd.taskId }, "decision for an unknown task");
          return;
        }
        ctx.log.info({ taskId: cmd.taskId, decision: cmd.decision, state: updated.state }, "decision applied");
        // What learning from the change cost (a Claude call) counts towards the task.
        const learnt = await lessons.afterDecision(cmd, updated);
        if (learnt) await update(cmd.taskId, (t) => withUsage(t, learnt));
        await drive(cmd.taskId);
      });
    }
    throw new InvalidMessageError(ctx.subject, "no command is defined on this subject");
  }

  /** Says in the log what the tech lead ignored and why (a forged, stale or repeated report). */
  function ignoredInLog(evt: TaskEvent, reason: string, ctx: MessageContext): void {
    const about =
      "stepId" in evt ? { stepId: evt.stepId, ...("attempt" in evt ? { attempt: evt.attempt, role: evt.role } : {}) } : {};
    ctx.log.warn({ taskId: evt.taskId, ...about, event: evt.type, eventId: evt.eventId, reason }, "ignored a step report");
  }

  /**
   * A step report, applied in its task's queue when it is about a step attempt the tech lead
   * dispatched; anything else is said in the log and dropped (see `ignoredReport`).
   */
  function onStepEvent(evt: TaskEvent, ctx: MessageContext): Promise<void> {
    const mismatch = subjectMismatch(ctx.subject, evt);
    if (mismatch || !isStepReport(evt)) {
      ignoredInLog(evt, mismatch ?? `a ${evt.type} is not a step report`, ctx);
      return Promise.resolve();
    }
    if (evt.type === "step.progress") return Promise.resolve();
    return queue.run(evt.taskId, async () => {
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
      const learnt = await lessons.afterStepEvent(evt, updated);
      if (learnt) await update(evt.taskId, (t) => withUsage(t, learnt));
      if (updated?.sandbox?.mode === "process" && !wasProcess) {
        ctx.log.warn(
          { taskId: evt.taskId, stepId: evt.stepId, warning: updated.sandbox.warning },
          "a step runs in the process sandbox",
        );
      }
      await drive(evt.taskId);
    });
  }

  /**
   * After a crash: publish what was written but not sent, then finish interrupted planning or
   * summaries in the background (in each task's queue), so a slow plan never delays start-up.
   */
  async function recover(): Promise<void> {
    const live: string[] = [];
    for (const t of await store.all()) {
      try {
        if (t.outbox.length > 0) await store.flush(t.id);
      } catch (err) {
        log.error({ err, taskId: t.id }, "could not publish a task's outbox at start-up; its next change retries");
      }
      if (!isTerminal(t.state)) live.push(t.id);
    }
    recovering = eachLimited(live, concurrency, (id) =>
      queue.run(id, () => drive(id)).catch((err: unknown) => log.error({ err, taskId: id }, "could not resume a task")),
    );
  }

  const consumeOptions = (spec: ConsumerSpec) => ({
    concurrency,
    ...(deps.backoffMs ? { backoffMs: deps.backoffMs } : {}),
    deadLetter: {
      subject: SUBJECTS.deadLetter(spec.durable),
      maxDeliveries: deps.setAsideAfter ?? 5,
      onSetAside: async (letter: SetAsideMessage, l: Logger) => {
        metrics.setAside.inc({ consumer: letter.consumer, code: letter.code });
        await tell.setAside(letter, l);
      },
    },
  });

  return {
    store,
    drive,
    async start() {
      await recover();
      await bus.serve(
        SUBJECTS.statusQuery,
        StatusQuery,
        StatusReply,
        (q) => answerStatus(store, q, log),
        (e) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } }),
      );
      await bus.serve(
        SUBJECTS.lessonsQuery,
        LessonsQuery,
        LessonsReply,
        (q) => lessons.answer(q),
        (e) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } }),
      );
      const commands = CONSUMERS.techLeadCommands;
      const results = CONSUMERS.techLeadResults;
      consumptions.push(await bus.consume(commands, z.unknown(), onCommand, consumeOptions(commands)));
      consumptions.push(await bus.consume(results, TaskEvent, onStepEvent, consumeOptions(results)));
    },
    async stop() {
      retries.stop();
      await Promise.all(consumptions.map((c) => c.stop()));
      await recovering;
      retries.stop();
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

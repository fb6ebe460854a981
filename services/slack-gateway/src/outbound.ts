import type { Bus, Consumption, MessageContext } from "@mllead/bus";
import { CONSUMERS, type EventOf, isTerminal, SUBJECTS, type TaskEvent, TaskEvent as TaskEventSchema } from "@mllead/contracts";
import type { Logger } from "pino";
import { type Delivery, SlackDelivery } from "./deliver.js";
import { OutboundStore } from "./outbound-store.js";
import { Outbox, type OutboxJob, type Priority } from "./outbox.js";
import { Poster } from "./poster.js";
import { type FileSource, fileComment, fileShares } from "./render/files.js";
import { renderJob } from "./render/jobs.js";
import { renderPlan } from "./render/plan.js";
import { renderBrainFailed, renderBudgetRaised, renderBudgetReached, renderRetrying } from "./render/questions.js";
import { renderProgressCard, renderStatusCard } from "./render/status.js";
import { renderStepCompleted, renderStepFailed, renderStepStarted } from "./render/steps.js";
import {
  renderApproved,
  renderCancelled,
  renderChangesRequested,
  renderDecisionRejected,
  renderQuestionAnswered,
  renderReplanning,
  renderSummaryStream,
  renderTaskCompleted,
  renderTaskFailed,
} from "./render/task-lines.js";
import type { SlackApi } from "./slack-api.js";
import type { JobView, SlackStore, TaskLink } from "./store.js";

type JobEvent = EventOf<"job.queued" | "job.started" | "job.progress" | "job.finished">;
type NewJob = Omit<OutboxJob<Delivery>, "seq" | "attempts" | "channel" | "threadTs">;

/** Keys of the messages that are edited in place. */
export const postKeys = {
  statusCard: (taskId: string) => `card:${taskId}`,
  job: (jobId: string) => `job:${jobId}`,
  files: (eventId: string) => `files:${eventId}`,
  status: (eventId: string) => `status:${eventId}`,
};

/** What Slack shows under the thread while the tech lead writes a plan. */
const THINKING: Partial<Record<string, string>> = {
  requested: "is reading the request…",
  planning: "is writing a plan…",
  revising: "is revising the plan…",
};

function mergeJob(prev: JobView | null, e: JobEvent): JobView {
  const base: JobView = prev ?? { jobId: e.jobId, taskId: e.taskId, stepId: e.stepId, state: "queued" };
  // A late, redelivered queued/started/progress event must not take a finished job back.
  const finished = base.state === "finished";
  switch (e.type) {
    case "job.queued":
      return { ...base, gpus: e.gpus };
    case "job.started":
      return { ...base, state: finished ? "finished" : "running", host: e.host, devices: e.devices };
    case "job.progress":
      return { ...base, state: finished ? "finished" : "running", progress: e.progress };
    case "job.finished":
      return { ...base, state: "finished", result: e.result, host: e.result.host };
  }
}

const post = (key: string, priority: Priority, payload: Delivery): NewJob => ({
  key,
  priority,
  ordered: true,
  coalesce: false,
  payload,
});

export interface OutboundDeps {
  bus: Bus;
  store: SlackStore;
  outbound: OutboundStore<Delivery>;
  outbox: Outbox<Delivery>;
  log: Logger;
  /** Least ms between two edits of one job's message (the final state goes at once). Default 2000. */
  jobUpdateIntervalMs?: number;
}

/**
 * Turns task events into outbox jobs for the task's thread, quickly: the event is acknowledged as
 * soon as its jobs are kept, and Slack's pace never holds up the next event. An event that cannot
 * be rendered (no thread known, a render that throws) is set aside with its reason; it never
 * delays another thread.
 */
export class EventRenderer {
  constructor(private readonly deps: OutboundDeps) {}

  async handle(event: TaskEvent, ctx: Pick<MessageContext, "log">): Promise<void> {
    const log = ctx.log.child({ taskId: event.taskId, eventType: event.type, eventId: event.eventId });
    const link = await this.deps.store.linkForEvent(event);
    if (!link) {
      await this.setAside(event, `no Slack thread is known for task ${event.taskId}`, log);
      return;
    }
    let jobs: NewJob[];
    try {
      jobs = await this.jobsFor(event, link);
    } catch (err) {
      await this.setAside(event, `could not be rendered: ${(err as Error).message}`, log);
      return;
    }
    for (const job of jobs) await this.deps.outbox.enqueue({ ...job, channel: link.channel, threadTs: link.threadTs });
  }

  private async setAside(event: TaskEvent, reason: string, log: Logger): Promise<void> {
    log.warn({ reason }, "set an event aside");
    await this.deps.outbound.setAside({
      key: `event:${event.eventId}`,
      taskId: event.taskId,
      what: `event ${event.type}`,
      reason: reason.slice(0, 2000),
      at: new Date().toISOString(),
      body: JSON.stringify(event).slice(0, 20_000),
    });
  }

  private async jobsFor(event: TaskEvent, link: TaskLink): Promise<NewJob[]> {
    const { store, outbound } = this.deps;
    const brain = link.brain;
    switch (event.type) {
      case "task.updated": {
        const view = event.view;
        const b = view.brain ?? brain;
        if (view.brain && view.brain !== brain) await store.noteTask(event.taskId, { brain: view.brain });
        // A task waiting on a retry or a budget answer is not thinking.
        const thinking = view.waiting ? undefined : THINKING[view.state];
        const card: NewJob = {
          key: postKeys.statusCard(event.taskId),
          priority: "progress",
          ordered: false,
          coalesce: true,
          // chat.update is Tier 3 for the whole workspace: a card shows its newest state at most once a second.
          minIntervalMs: 1000,
          final: isTerminal(view.state),
          payload: {
            kind: "upsert",
            msg: renderProgressCard(view, b),
            alternatives: view.steps.length ? [renderStatusCard(view, b)] : [],
            ...(thinking
              ? { defer: "thinking" as const }
              : view.state === "awaiting_approval"
                ? { defer: "later" as const }
                : {}),
          },
        };
        if (!thinking) return [card];
        return [post(postKeys.status(event.eventId), "person", { kind: "status", status: thinking }), card];
      }
      case "task.planned":
        await store.noteTask(event.taskId, {
          brain: event.plan.brain,
          revision: event.revision,
          openQuestions: event.plan.questions?.length ?? 0,
        });
        await outbound.putPlan({ taskId: event.taskId, revision: event.revision, requester: event.requester, plan: event.plan });
        return [
          post(event.eventId, "person", {
            kind: "post",
            msg: renderPlan(event),
            rememberPlan: { taskId: event.taskId, revision: event.revision },
          }),
        ];
      case "task.decision_rejected":
        return [
          {
            key: event.eventId,
            priority: "person",
            ordered: false,
            coalesce: false,
            payload: { kind: "ephemeral", user: event.userId, msg: renderDecisionRejected(event) },
          },
        ];
      case "task.approved":
        return [post(event.eventId, "person", { kind: "post", msg: renderApproved(event, brain) })];
      case "task.changes_requested":
        // Revising: until the next plan is posted, a plain reply is conversation again.
        if (event.answers) await store.noteTask(event.taskId, { openQuestions: 0 });
        return [post(event.eventId, "person", { kind: "post", msg: renderChangesRequested(event, brain) })];
      case "task.question_answered":
        await store.noteTask(event.taskId, { openQuestions: event.open });
        return [post(event.eventId, "person", { kind: "post", msg: renderQuestionAnswered(event, brain) })];
      case "task.cancelled":
        return [post(event.eventId, "person", { kind: "post", msg: renderCancelled(event, brain) })];
      case "task.replanning":
        return [post(event.eventId, "person", { kind: "post", msg: renderReplanning(event, brain) })];
      case "task.failed":
        return [post(event.eventId, "person", { kind: "post", msg: renderTaskFailed(event, brain) })];
      case "task.brain_failed":
        return [post(event.eventId, "person", { kind: "post", msg: renderBrainFailed(event, brain) })];
      case "task.retrying":
        return [post(event.eventId, "thread", { kind: "post", msg: renderRetrying(event, brain) })];
      case "task.budget_reached":
        return [post(event.eventId, "person", { kind: "post", msg: renderBudgetReached(event, brain) })];
      case "task.budget_raised":
        return [post(event.eventId, "person", { kind: "post", msg: renderBudgetRaised(event, brain) })];
      case "task.completed": {
        const plan = await outbound.latestPlan(event.taskId, link.revision);
        const { parts, end } = renderSummaryStream(event);
        const recipient = plan && link.teamId ? { userId: plan.requester, teamId: link.teamId } : undefined;
        return [
          post(event.eventId, "person", {
            kind: "stream",
            parts,
            end,
            fallback: renderTaskCompleted(event),
            ...(recipient ? { recipient } : {}),
          }),
        ];
      }
      case "step.started":
        return [post(event.eventId, "thread", { kind: "post", msg: renderStepStarted(event, brain) })];
      case "step.completed": {
        // The code reviewer's verdict is what the thread waits for; other steps are progress.
        const priority: Priority = event.role === "code-reviewer" ? "person" : "thread";
        const jobs = [post(event.eventId, priority, { kind: "post", msg: renderStepCompleted(event, brain) })];
        const files = this.filesJob(
          event.eventId,
          event.taskId,
          event.result.artifacts,
          { label: event.title, by: event.role },
          brain,
        );
        return files ? [...jobs, files] : jobs;
      }
      case "step.failed":
        return [post(event.eventId, "thread", { kind: "post", msg: renderStepFailed(event, brain) })];
      case "step.progress":
        // The status card and the job message carry progress; a line per update would flood the thread.
        return [];
      case "job.queued":
      case "job.started":
      case "job.progress":
      case "job.finished":
        return this.jobEvent(event, brain);
      default: {
        const never: never = event;
        throw new Error(`unknown event type ${(never as { type?: string }).type}`);
      }
    }
  }

  private async jobEvent(event: JobEvent, brain: TaskLink["brain"]): Promise<NewJob[]> {
    const { store } = this.deps;
    const view = mergeJob(await store.job(event.jobId), event);
    await store.putJob(view);
    const finished = event.type === "job.finished";
    const message: NewJob = {
      key: postKeys.job(event.jobId),
      priority: "progress",
      ordered: false,
      coalesce: true,
      minIntervalMs: this.deps.jobUpdateIntervalMs ?? 2000,
      final: finished,
      payload: { kind: "upsert", msg: renderJob(view, brain) },
    };
    if (event.type !== "job.finished") return [message];
    const files = this.filesJob(
      event.eventId,
      event.taskId,
      event.result.artifacts,
      { label: `GPU job ${event.jobId}`, by: `step ${event.stepId}` },
      brain,
    );
    return files ? [message, files] : [message];
  }

  private filesJob(
    eventId: string,
    taskId: string,
    artifacts: Parameters<typeof fileShares>[0],
    source: FileSource,
    brain: TaskLink["brain"],
  ): NewJob | null {
    const shares = fileShares(artifacts, source);
    if (shares.length === 0) return null;
    return post(postKeys.files(eventId), "thread", {
      kind: "files",
      taskId,
      shares,
      comment: fileComment(shares, source, brain),
      source,
    });
  }
}

/** The running outbound side: the events consumer and the outbox behind it. */
export interface Outbound {
  renderer: EventRenderer;
  outbox: Outbox<Delivery>;
  outbound: OutboundStore<Delivery>;
  stop(): Promise<void>;
}

/**
 * Starts the gateway's outbound side: the outbox (with whatever a previous process left in it) and
 * the consumer that turns task events into its jobs.
 */
export async function startOutbound(deps: {
  bus: Bus;
  store: SlackStore;
  slack: SlackApi;
  log: Logger;
  jobUpdateIntervalMs?: number;
  /** Consume task events (default true; tests may drive the renderer directly). */
  consume?: boolean;
}): Promise<Outbound> {
  const { bus, store, slack } = deps;
  const log = deps.log.child({ component: "outbound" });
  const outbound = await OutboundStore.open<Delivery>(bus);
  const poster = new Poster(slack, store, log);
  const delivery = new SlackDelivery({ slack, poster, store, outbound, bus, log });
  const outbox = new Outbox<Delivery>(outbound, delivery, {
    onError: (err, job) => log.warn({ err, postKey: job.key }, "an outbox job failed"),
  });
  await outbox.start();
  const renderer = new EventRenderer({
    bus,
    store,
    outbound,
    outbox,
    log,
    ...(deps.jobUpdateIntervalMs !== undefined ? { jobUpdateIntervalMs: deps.jobUpdateIntervalMs } : {}),
  });
  const consumption: Consumption | null =
    deps.consume === false
      ? null
      : await bus.consume(CONSUMERS.gateway, TaskEventSchema, async (event, ctx) => {
          // NATS permissions go by subject: an event whose payload names another task, step, job or kind is forged.
          const own = SUBJECTS.event(event as TaskEvent & { stepId?: string; jobId?: string });
          if (ctx.subject !== own) {
            ctx.log.warn(
              { taskId: event.taskId, eventId: event.eventId, own },
              "ignored an event that arrived on another subject than its own",
            );
            return;
          }
          await renderer.handle(event, ctx);
        });
  return {
    renderer,
    outbox,
    outbound,
    stop: async () => {
      await consumption?.stop();
      await outbox.stop();
    },
  };
}

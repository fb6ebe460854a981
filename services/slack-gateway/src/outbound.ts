import type { Bus, MessageContext } from "@mllead/bus";
import { BUCKETS, type EventOf, SlackRef, type TaskEvent } from "@mllead/contracts";
import type { Logger } from "pino";
import { z } from "zod";
import type { Poster, ThreadTarget } from "./poster.js";
import { renderJob } from "./render/jobs.js";
import { renderPlan } from "./render/plan.js";
import { renderStatusCard } from "./render/status.js";
import { renderStepCompleted, renderStepFailed, renderStepStarted } from "./render/steps.js";
import {
  renderApproved,
  renderCancelled,
  renderChangesRequested,
  renderDecisionRejected,
  renderReplanning,
  renderTaskCompleted,
  renderTaskFailed,
} from "./render/task-lines.js";
import { SlackApiError } from "./slack-api.js";
import type { JobView, SlackStore, TaskLink } from "./store.js";
import type { KeyedThrottle } from "./throttle.js";

/** The part of the tech lead's task record the gateway reads when it has no link of its own. */
const TaskRecordSlack = z.looseObject({ id: z.string(), slack: SlackRef });

type JobEvent = EventOf<"job.queued" | "job.started" | "job.progress" | "job.finished">;

export interface OutboundDeps {
  bus: Bus;
  store: SlackStore;
  poster: Poster;
  throttle: KeyedThrottle;
  log: Logger;
}

/** Keys of the messages that are edited in place. */
export const postKeys = {
  statusCard: (taskId: string) => `card:${taskId}`,
  job: (jobId: string) => `job:${jobId}`,
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

/**
 * Turns task events into Slack messages in the task's thread. Idempotent: every post goes
 * through the Poster's KV marks, so a redelivered event never posts twice. A Slack error is
 * thrown (the consumer naks and retries with backoff) unless it is permanent, which is logged
 * and dropped.
 */
export class EventRenderer {
  constructor(private readonly deps: OutboundDeps) {}

  async handle(event: TaskEvent, ctx: MessageContext): Promise<void> {
    const log = ctx.log.child({ taskId: event.taskId, eventType: event.type, eventId: event.eventId });
    const link = await this.link(event);
    if (!link) {
      // The thread may be recorded a moment later (mention → KV → TaskCreate); give it a few tries.
      if (ctx.deliveryCount < 3) throw new Error(`no Slack thread known yet for task ${event.taskId}`);
      log.warn("dropping an event for a task with no known Slack thread");
      return;
    }
    try {
      await this.render(event, link, log);
    } catch (err) {
      if (err instanceof SlackApiError && err.permanent) {
        log.error({ err, slackError: err.slackError }, "Slack refused this event's message for good; dropping it");
        return;
      }
      throw err;
    }
  }

  private async link(event: TaskEvent): Promise<TaskLink | null> {
    const known = await this.deps.store.task(event.taskId);
    if (known) return known;
    const slack = event.type === "task.updated" ? event.view.slack : ((await this.taskRecordSlack(event.taskId)) ?? undefined);
    if (!slack) return null;
    const link: TaskLink = {
      taskId: event.taskId,
      channel: slack.channel,
      threadTs: slack.threadTs,
      ...(slack.teamId ? { teamId: slack.teamId } : {}),
    };
    await this.deps.store.linkTask(link);
    return link;
  }

  private async taskRecordSlack(taskId: string): Promise<SlackRef | null> {
    try {
      const kv = await this.deps.bus.kv(BUCKETS.tasks, TaskRecordSlack);
      return (await kv.get(taskId))?.value.slack ?? null;
    } catch {
      return null;
    }
  }

  private async render(event: TaskEvent, link: TaskLink, log: Logger): Promise<void> {
    const { poster, store } = this.deps;
    const target: ThreadTarget = { channel: link.channel, threadTs: link.threadTs };
    const brain = link.brain;
    const once = async (msg: Parameters<Poster["postOnce"]>[2]) => {
      await poster.postOnce(event.eventId, target, msg);
    };
    switch (event.type) {
      case "task.updated": {
        const b = event.view.brain ?? brain;
        if (event.view.brain && event.view.brain !== brain) await store.noteTask(event.taskId, { brain: event.view.brain });
        await poster.upsert(postKeys.statusCard(event.taskId), target, renderStatusCard(event.view, b));
        return;
      }
      case "task.planned": {
        await store.noteTask(event.taskId, { brain: event.plan.brain, revision: event.revision });
        const { ts } = await poster.postOnce(event.eventId, target, renderPlan(event));
        await store.rememberPlan(link.channel, ts, { taskId: event.taskId, revision: event.revision });
        return;
      }
      case "task.decision_rejected":
        await poster.ephemeralOnce(event.eventId, target, event.userId, renderDecisionRejected(event));
        return;
      case "task.approved":
        return once(renderApproved(event, brain));
      case "task.changes_requested":
        return once(renderChangesRequested(event, brain));
      case "task.cancelled":
        return once(renderCancelled(event, brain));
      case "task.completed":
        return once(renderTaskCompleted(event));
      case "task.replanning":
        return once(renderReplanning(event, brain));
      case "task.failed":
        return once(renderTaskFailed(event, brain));
      case "step.started":
        return once(renderStepStarted(event, brain));
      case "step.completed":
        return once(renderStepCompleted(event, brain));
      case "step.failed":
        return once(renderStepFailed(event, brain));
      case "step.progress":
        // The status card and the job message carry progress; a line per update would flood the thread.
        return;
      case "job.queued":
      case "job.started":
      case "job.progress":
      case "job.finished":
        return this.renderJobEvent(event, target, brain, log);
      default: {
        const never: never = event;
        log.warn({ event: never }, "unknown event type");
      }
    }
  }

  private async renderJobEvent(event: JobEvent, target: ThreadTarget, brain: TaskLink["brain"], log: Logger): Promise<void> {
    const { store, poster, throttle } = this.deps;
    const view = mergeJob(await store.job(event.jobId), event);
    await store.putJob(view);
    const key = postKeys.job(event.jobId);
    const draw = async () => {
      // Redraw from the stored view: a trailing update shows the newest state, not the event that scheduled it.
      const latest = (await store.job(event.jobId)) ?? view;
      await poster.upsert(key, target, renderJob(latest, brain));
    };
    if (event.type === "job.finished") {
      await throttle.run(key, draw, { final: true });
      return;
    }
    await throttle.run(key, draw).catch((err: unknown) => {
      // A progress update can be skipped; the next one (or the final state) redraws the message.
      log.warn({ err }, "job progress update failed");
    });
  }
}

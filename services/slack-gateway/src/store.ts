import type { Bus, TypedKv } from "@mllead/bus";
import { BrainKind, BUCKETS, Id, JobProgress, JobResult, stableId, type TaskEvent, TraceContext } from "@mllead/contracts";
import { z } from "zod";

/** Where a task lives in Slack, and what the gateway has learnt about it from events. */
export const TaskLink = z.object({
  taskId: Id,
  channel: z.string().min(1),
  threadTs: z.string().min(1),
  teamId: z.string().optional(),
  brain: BrainKind.optional(),
  /** The newest plan revision posted in the thread. */
  revision: z.number().int().nonnegative().optional(),
  /** Questions of that revision still without an answer: while there are, a plain reply in the thread answers them. */
  openQuestions: z.number().int().nonnegative().optional(),
  /** The trace the mention started: a person's later decision on the task is sent in it. */
  trace: TraceContext.optional(),
});
export type TaskLink = z.infer<typeof TaskLink>;

const ThreadLink = z.object({ taskId: Id });

/** A plan message: reactions on it approve that revision. */
export const PlanMessage = z.object({ taskId: Id, revision: z.number().int().nonnegative() });
export type PlanMessage = z.infer<typeof PlanMessage>;

/**
 * What became of one post: `pending` is written before `chat.postMessage`, `posted` after.
 * A `pending` mark found later means a crash in between; the message is looked up by its metadata.
 */
export const PostMark = z.object({
  state: z.enum(["pending", "posted"]),
  channel: z.string(),
  ts: z.string().optional(),
});
export type PostMark = z.infer<typeof PostMark>;

/** Everything known about one GPU job, merged from its events, so its message can be redrawn whole. */
export const JobView = z.object({
  jobId: Id,
  taskId: Id,
  stepId: Id,
  state: z.enum(["queued", "running", "finished"]),
  gpus: z.number().int().nonnegative().optional(),
  host: z.string().optional(),
  devices: z.array(z.string()).optional(),
  progress: JobProgress.optional(),
  result: JobResult.optional(),
});
export type JobView = z.infer<typeof JobView>;

/** KV keys hold only `[-/_=.a-zA-Z0-9]`; Slack ts values and event ids are hashed into that alphabet. */
const key = {
  task: (taskId: string) => `task.${taskId}`,
  thread: (channel: string, threadTs: string) => `thread.${stableId("", channel, threadTs)}`,
  plan: (channel: string, ts: string) => `plan.${stableId("", channel, ts)}`,
  post: (postKey: string) => `post.${stableId("", postKey)}`,
  job: (jobId: string) => `job.${jobId}`,
};

/** The gateway's Slack bookkeeping in the `mllead_slack` KV bucket. */
export class SlackStore {
  private constructor(
    private readonly tasks: TypedKv<typeof TaskLink>,
    private readonly threads: TypedKv<typeof ThreadLink>,
    private readonly plans: TypedKv<typeof PlanMessage>,
    private readonly posts: TypedKv<typeof PostMark>,
    private readonly jobs: TypedKv<typeof JobView>,
  ) {}

  static async open(bus: Bus): Promise<SlackStore> {
    return new SlackStore(
      await bus.kv(BUCKETS.slack, TaskLink),
      await bus.kv(BUCKETS.slack, ThreadLink),
      await bus.kv(BUCKETS.slack, PlanMessage),
      await bus.kv(BUCKETS.slack, PostMark),
      await bus.kv(BUCKETS.slack, JobView),
    );
  }

  /** Remembers a task's thread both ways: task → thread for posting, thread → task for replies. */
  async linkTask(link: TaskLink): Promise<void> {
    const existing = await this.tasks.get(key.task(link.taskId));
    await this.tasks.put(key.task(link.taskId), { ...existing?.value, ...link });
    await this.threads.put(key.thread(link.channel, link.threadTs), { taskId: link.taskId });
  }

  async task(taskId: string): Promise<TaskLink | null> {
    return (await this.tasks.get(key.task(taskId)))?.value ?? null;
  }

  /**
   * The thread of the task an event belongs to: the gateway's own link (written when the mention
   * arrived), or, the first time, the Slack ref that `task.updated` carries — recorded for the next
   * event. Null when neither knows it yet. Everything comes from the gateway's bucket and the events,
   * never from the tech lead's task records.
   */
  async linkForEvent(event: TaskEvent): Promise<TaskLink | null> {
    const known = await this.task(event.taskId);
    if (known) return known;
    if (event.type !== "task.updated") return null;
    const { slack } = event.view;
    // A thread that belongs to another task is never lent to one that names it: an event is no proof of where a task lives.
    const owner = await this.taskForThread(slack.channel, slack.threadTs);
    if (owner !== null && owner !== event.taskId) return null;
    const link: TaskLink = {
      taskId: event.taskId,
      channel: slack.channel,
      threadTs: slack.threadTs,
      ...(slack.teamId ? { teamId: slack.teamId } : {}),
    };
    await this.linkTask(link);
    return link;
  }

  /**
   * Merges what an event taught us (brain, newest revision, open questions) into the task's link. Open
   * questions are kept for the newest revision only: a count about an older plan never overwrites it.
   */
  async noteTask(taskId: string, patch: Partial<Pick<TaskLink, "brain" | "revision" | "openQuestions">>): Promise<void> {
    await this.tasks.mutate(key.task(taskId), (cur) => {
      const newest = patch.revision === undefined || patch.revision >= (cur.revision ?? 0);
      return {
        ...cur,
        ...(patch.brain ? { brain: patch.brain } : {}),
        ...(patch.revision !== undefined ? { revision: Math.max(patch.revision, cur.revision ?? 0) } : {}),
        ...(patch.openQuestions !== undefined && newest ? { openQuestions: patch.openQuestions } : {}),
      };
    });
  }

  async taskForThread(channel: string, threadTs: string): Promise<string | null> {
    return (await this.threads.get(key.thread(channel, threadTs)))?.value.taskId ?? null;
  }

  async rememberPlan(channel: string, ts: string, plan: PlanMessage): Promise<void> {
    await this.plans.put(key.plan(channel, ts), plan);
  }

  async planAt(channel: string, ts: string): Promise<PlanMessage | null> {
    return (await this.plans.get(key.plan(channel, ts)))?.value ?? null;
  }

  async postMark(postKey: string): Promise<PostMark | null> {
    return (await this.posts.get(key.post(postKey)))?.value ?? null;
  }

  async setPostMark(postKey: string, mark: PostMark): Promise<void> {
    await this.posts.put(key.post(postKey), mark);
  }

  async clearPostMark(postKey: string): Promise<void> {
    await this.posts.delete(key.post(postKey));
  }

  async job(jobId: string): Promise<JobView | null> {
    return (await this.jobs.get(key.job(jobId)))?.value ?? null;
  }

  async putJob(view: JobView): Promise<void> {
    await this.jobs.put(key.job(view.jobId), view);
  }
}

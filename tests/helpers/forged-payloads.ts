/**
 * The payloads of forged messages: valid events, work orders and GPU jobs about the tasks a test has
 * in flight, each carrying a marker in its text fields (see forgeries.ts), and the subject an event
 * would take with one part of it swapped.
 */
import { GpuJob, type Role, StepWork, SUBJECTS, TaskEvent, type TaskRecord, toTaskView } from "@mllead/contracts";
import type { Rng } from "./fuzz.js";

export const STRANGER = "U0EVIL";
const at = () => new Date().toISOString();

/** Task ids no task has: the generator's unknown tasks start with this. */
export const UNKNOWN_TASK_PREFIX = "tForged";
/** Job ids of forged jobs start with this. */
export const FORGED_JOB_PREFIX = "fjob";
/** Event ids of forged events start with this. */
export const FORGED_EVENT_PREFIX = "forged-";

/** A task the test has in flight, with the thread it lives in. */
export interface KnownTask {
  id: string;
  threadTs: string;
  record: TaskRecord;
}

/** What the generator knows: the tasks in flight and where they live. */
export interface ForgeryContext {
  /** Waits for approval (its plan is posted). */
  pending: KnownTask;
  /** Approved; its first step is dispatched and nothing runs it. */
  executing: KnownTask;
  /** Cancelled. */
  finished: KnownTask;
  channel: string;
  /** The requester of every task above. */
  requester: string;
  /** The ts of the pending task's plan message (what a ✅ reaction would be on). */
  planTs: string;
}

/** The steps of `t`'s plan, all of them or those with one status. */
export function stepOf(t: KnownTask, status: "pending" | "dispatched" | "any") {
  const steps = t.record.plan?.steps ?? [];
  return steps.filter((s) => status === "any" || t.record.steps[s.id]?.status === status);
}

function eventBase(taskId: string, i: number) {
  return { v: 1, eventId: `${FORGED_EVENT_PREFIX}${i}`, taskId, at: at() };
}

/** A valid step event of `type`. */
export function stepEvent(
  type: "step.started" | "step.completed" | "step.failed" | "step.progress",
  taskId: string,
  step: { id: string; role: Role; title: string; acceptanceCriteria: { id: string; text: string }[] },
  attempt: number,
  marker: string,
  i: number,
): TaskEvent {
  const base = { ...eventBase(taskId, i), stepId: step.id, role: step.role, attempt };
  const title = `${step.title} ${marker}`;
  switch (type) {
    case "step.started":
      return TaskEvent.parse({ ...base, type, title });
    case "step.progress":
      return TaskEvent.parse({ ...base, type, message: marker });
    case "step.failed":
      return TaskEvent.parse({ ...base, type, title, error: `failed ${marker}` });
    case "step.completed":
      return TaskEvent.parse({
        ...base,
        type,
        title,
        result: {
          status: "succeeded",
          summary: `done ${marker}`,
          metrics: { auc: 0.99 },
          criteria: step.acceptanceCriteria.map((c) => ({ id: c.id, criterion: c.text, met: true, evidence: marker })),
        },
      });
  }
}

export const TASK_EVENT_TYPES = [
  "task.updated",
  "task.planned",
  "task.decision_rejected",
  "task.approved",
  "task.changes_requested",
  "task.cancelled",
  "task.completed",
  "task.replanning",
  "task.failed",
  "task.brain_failed",
  "task.retrying",
  "task.budget_reached",
  "task.budget_raised",
] as const;

/** A valid task-level event of `type` about `t` (or, with `id`, about a task of that id living in `t`'s thread). */
export function taskEvent(
  type: (typeof TASK_EVENT_TYPES)[number],
  t: KnownTask,
  marker: string,
  i: number,
  id = t.id,
): TaskEvent {
  const base = eventBase(id, i);
  const plan = t.record.plan;
  const body: Record<string, unknown> = (() => {
    switch (type) {
      case "task.updated":
        return { view: { ...toTaskView(t.record), id, text: `${t.record.text} ${marker}`, state: "done" } };
      case "task.planned":
        return { revision: t.record.revision + 1, plan: { ...plan, summary: `plan ${marker}` }, requester: STRANGER };
      case "task.decision_rejected":
        return { userId: STRANGER, decision: "approve", reason: marker };
      case "task.approved":
        return { userId: STRANGER, via: marker };
      case "task.changes_requested":
        return { userId: STRANGER, feedback: marker };
      case "task.cancelled":
        return { userId: STRANGER, reason: marker };
      case "task.completed":
        return { summary: `summary ${marker}`, brain: "offline" };
      case "task.replanning":
        return { stepId: plan?.steps[0]?.id ?? "data", reason: marker };
      case "task.failed":
        return { reason: marker };
      case "task.brain_failed":
        return { call: "plan", code: "claude_refused", message: marker, attempt: 1 };
      case "task.retrying":
        return { call: "plan", userId: marker.slice(0, 20) };
      case "task.budget_reached":
        return { costUsd: 1, budgetUsd: 1, raiseUsd: 1, ask: 1, requester: STRANGER, unpricedModels: [marker] };
      case "task.budget_raised":
        return { userId: STRANGER, costUsd: 1, budgetUsd: 2 };
    }
  })();
  return TaskEvent.parse({ ...base, type, ...body });
}

export const JOB_EVENT_TYPES = ["job.queued", "job.started", "job.progress", "job.finished"] as const;

/** A valid job event of `type` about a job nobody queued. */
export function jobEvent(
  type: (typeof JOB_EVENT_TYPES)[number],
  taskId: string,
  stepId: string,
  marker: string,
  i: number,
): TaskEvent {
  const base = { ...eventBase(taskId, i), stepId, jobId: `${FORGED_JOB_PREFIX}${i}` };
  switch (type) {
    case "job.queued":
      return TaskEvent.parse({ ...base, type, gpus: 1 });
    case "job.started":
      return TaskEvent.parse({ ...base, type, host: marker, runnerId: marker, devices: ["0"] });
    case "job.progress":
      return TaskEvent.parse({ ...base, type, progress: { step: 1, total: 2, message: marker } });
    case "job.finished":
      return TaskEvent.parse({
        ...base,
        type,
        result: {
          outcome: "succeeded",
          exitCode: 0,
          signal: null,
          durationMs: 1,
          metrics: { auc: 0.99 },
          logTail: [marker],
          host: marker,
        },
      });
  }
}

/** Where an event would be published, with one part of its subject swapped for another task's, step's or kind. */
export function wrongSubject(r: Rng, e: TaskEvent, ctx: ForgeryContext): string {
  const right = SUBJECTS.event(e as TaskEvent & { stepId?: string; jobId?: string });
  const parts = right.split(".");
  const others = [ctx.pending.id, ctx.executing.id, ctx.finished.id].filter((id) => id !== e.taskId);
  const how = r.int(0, 2);
  if (how === 0) parts[3] = r.pick(others);
  else if (how === 1 && parts.length === 7)
    parts[5] = r.pick(["data", "train", "analyze", "review", "other"].filter((s) => s !== parts[5]));
  else {
    // Another kind in the same scope: a step report's payload on another report's subject.
    const kinds: Record<string, string[]> = {
      step: ["started", "completed", "failed", "progress"],
      job: ["queued", "started", "progress", "finished"],
      task: TASK_EVENT_TYPES.map((t) => t.split(".")[1] as string),
    };
    const scope = parts[4] as string;
    const last = parts.length - 1;
    parts[last] = r.pick((kinds[scope] ?? ["x"]).filter((k) => k !== parts[last]));
  }
  const out = parts.join(".");
  return out === right ? `${right}x` : out;
}

/** A work order for step `step` of `t` (or of a task of id `taskId` nobody created), its instructions marked. */
export function workFor(
  t: KnownTask | null,
  taskId: string,
  step: NonNullable<TaskRecord["plan"]>["steps"][number],
  attempt: number,
  marker: string,
): StepWork {
  const rec = t?.record;
  return StepWork.parse({
    v: 1,
    taskId,
    stepId: step.id,
    attempt,
    role: step.role,
    step: { ...step, title: `${step.title} ${marker}`, objective: `${step.objective} ${marker}` },
    task: {
      text: `${rec?.text ?? "x"} ${marker}`,
      requester: rec?.requester ?? { userId: STRANGER },
      slack: rec?.slack ?? { channel: "C0GENERAL", threadTs: "1.1", messageTs: "1.1" },
    },
    brain: "offline",
  });
}

/** A GPU job for a step attempt, printing the marker and failing. */
export function jobFor(taskId: string, stepId: string, attempt: number, marker: string, i: number): GpuJob {
  return GpuJob.parse({
    v: 1,
    jobId: `${FORGED_JOB_PREFIX}${i}`,
    taskId,
    stepId,
    attempt,
    command: ["python3", "-c", `print("${marker}"); raise SystemExit(3)`],
    gpus: 0,
    timeoutSec: 30,
    submittedAt: at(),
  });
}

import type { EventOf, TaskEvent } from "@mllead/contracts";
import type { ArtifactLinker } from "../artifact-links.js";
import { type FileSource, fileComment, fileShares } from "../render/files.js";
import { renderJob } from "../render/jobs.js";
import { renderStepCompleted, renderStepFailed, renderStepStarted } from "../render/steps.js";
import type { JobView, SlackStore, TaskLink } from "../store.js";
import { type NewItem, post, postKeys } from "./items.js";
import type { Priority } from "./outbox.js";

export type StepEvent = EventOf<"step.started" | "step.completed" | "step.failed" | "step.progress">;
export type JobEvent = EventOf<"job.queued" | "job.started" | "job.progress" | "job.finished">;

/** A step's lines in the thread, and the files of a completed step (the others linked when `links` is given). */
export function stepItems(event: StepEvent, brain: TaskLink["brain"], links?: ArtifactLinker | null): NewItem[] {
  switch (event.type) {
    case "step.started":
      return [post(event.eventId, "thread", { kind: "post", msg: renderStepStarted(event, brain) })];
    case "step.completed": {
      // The code reviewer's verdict is what the thread waits for; other steps are progress.
      const priority: Priority = event.role === "code-reviewer" ? "person" : "thread";
      const items = [post(event.eventId, priority, { kind: "post", msg: renderStepCompleted(event, brain, links) })];
      const files = filesItem(event, event.result.artifacts, { label: event.title, by: event.role }, brain);
      return files ? [...items, files] : items;
    }
    case "step.failed":
      return [post(event.eventId, "thread", { kind: "post", msg: renderStepFailed(event, brain) })];
    case "step.progress":
      // The status card and the job message carry progress; a line per update would flood the thread.
      return [];
  }
}

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
 * A GPU job's message, edited in place at most once per `updateIntervalMs` (the final state goes at once),
 * and the files of a finished job.
 */
export async function gpuJobItems(
  event: JobEvent,
  brain: TaskLink["brain"],
  store: Pick<SlackStore, "job" | "putJob">,
  updateIntervalMs: number,
  links?: ArtifactLinker | null,
): Promise<NewItem[]> {
  const view = mergeJob(await store.job(event.jobId), event);
  await store.putJob(view);
  const finished = event.type === "job.finished";
  const message: NewItem = {
    key: postKeys.job(event.jobId),
    priority: "progress",
    ordered: false,
    coalesce: true,
    minIntervalMs: updateIntervalMs,
    final: finished,
    payload: { kind: "upsert", msg: renderJob(view, brain, links) },
  };
  if (event.type !== "job.finished") return [message];
  const source = { label: `GPU job ${event.jobId}`, by: `step ${event.stepId}` };
  const files = filesItem(event, event.result.artifacts, source, brain);
  return files ? [message, files] : [message];
}

/** The files an event's artifacts share into the thread, as one upload; null when there are none to share. */
function filesItem(
  event: Pick<TaskEvent, "eventId" | "taskId">,
  artifacts: Parameters<typeof fileShares>[0],
  source: FileSource,
  brain: TaskLink["brain"],
): NewItem | null {
  const shares = fileShares(artifacts, source);
  if (shares.length === 0) return null;
  return post(postKeys.files(event.eventId), "thread", {
    kind: "files",
    taskId: event.taskId,
    shares,
    comment: fileComment(shares, source, brain),
    source,
  });
}

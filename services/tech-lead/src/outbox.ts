import {
  type Role,
  type StepWork,
  StepWork as StepWorkSchema,
  SUBJECTS,
  type TaskEvent,
  TaskEvent as TaskEventSchema,
  type TaskRecord,
  toTaskView,
} from "@mllead/contracts";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event as the orchestrator describes it; ids and time are filled in here. */
export type EventDraft = DistributiveOmit<TaskEvent, "v" | "eventId" | "taskId" | "at">;

/**
 * Appends an event to the task's outbox. Its id comes from the task's own counter,
 * so replaying a stored outbox republishes the same ids and JetStream drops the copies.
 */
export function pushEvent(task: TaskRecord, draft: EventDraft, now: string): void {
  task.eventSeq += 1;
  const eventId = `${task.id}.${task.eventSeq}.${draft.type}`;
  const event = TaskEventSchema.parse({ ...draft, v: 1, eventId, taskId: task.id, at: now });
  task.outbox.push({
    subject: SUBJECTS.event(event as TaskEvent & { stepId?: string; jobId?: string }),
    msgId: eventId,
    payload: event,
  });
}

/** Appends the status card's snapshot. */
export function pushUpdated(task: TaskRecord, now: string): void {
  task.updatedAt = now;
  pushEvent(task, { type: "task.updated", view: toTaskView(task) }, now);
}

/** Appends one step's work order for its role's queue. */
export function pushWork(task: TaskRecord, work: Omit<StepWork, "v">): void {
  const payload = StepWorkSchema.parse({ ...work, v: 1 });
  const role: Role = work.role;
  task.outbox.push({
    subject: SUBJECTS.stepWork(role),
    msgId: `step.${task.id}.${work.stepId}.${work.attempt}`,
    payload,
  });
}

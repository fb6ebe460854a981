import { type EventOf, SUBJECTS, type TaskEvent, type TaskRecord, undispatchedReason } from "@mllead/contracts";

/** A specialist's report on one attempt of one step. */
export type StepReport = EventOf<"step.started" | "step.completed" | "step.failed" | "step.progress">;

/** True for the events the tech lead reads as step reports. */
export function isStepReport(evt: TaskEvent): evt is StepReport {
  return (
    evt.type === "step.started" || evt.type === "step.completed" || evt.type === "step.failed" || evt.type === "step.progress"
  );
}

/**
 * Why an event that arrived on `subject` is not what its subject says (another task, step, job or kind:
 * NATS permissions are granted by subject, so a payload that disagrees with its subject is forged), or null.
 */
export function subjectMismatch(subject: string, evt: TaskEvent): string | null {
  const own = SUBJECTS.event(evt as TaskEvent & { stepId?: string; jobId?: string });
  return subject === own ? null : `it arrived on '${subject}', but a ${evt.type} of this task and step belongs on '${own}'`;
}

/**
 * Why the tech lead ignores a step report, or null when it applies it: the report must be about a
 * step attempt the tech lead dispatched and still waits for (see `undispatchedReason`), and a start
 * counts only while the step is dispatched (after that it is a repeat).
 */
export function ignoredReport(task: TaskRecord, evt: StepReport): string | null {
  const why = undispatchedReason(task, evt);
  if (why) return why;
  if (evt.type === "step.started" && task.steps[evt.stepId]?.status !== "dispatched")
    return "the step already started (a repeated report)";
  return null;
}

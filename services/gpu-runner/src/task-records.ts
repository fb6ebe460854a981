import { type Bus, InvalidRecordError, type TypedKv } from "@mllead/bus";
import { BUCKETS, type GpuJob, TaskRecord, undispatchedReason } from "@mllead/contracts";

/**
 * Why the runner refuses a job, or null to take it. A job of a task the tech lead knows must belong to
 * the step attempt it dispatched and still waits for (`undispatchedReason`); after a cancellation, a job
 * of the attempt that was dispatched is taken, to be reported cancelled to the step that waits for it.
 * A job of a task with no record (a tool or a test submitting jobs itself) runs: who may submit jobs at
 * all is for NATS users to say.
 */
export function jobRefusal(task: TaskRecord | null, job: Pick<GpuJob, "stepId" | "attempt">): string | null {
  if (!task) return null;
  if (task.state === "cancelled") {
    const step = task.steps[job.stepId];
    const dispatched = step?.attempt === job.attempt && step.startedAt !== undefined;
    return dispatched ? null : `the task is cancelled, and attempt ${job.attempt} of step ${job.stepId} was never dispatched`;
  }
  return undispatchedReason(task, job);
}

/**
 * The tech lead's task records (`mllead_tasks`, which it alone writes), read by the runner to tell a
 * job a step asked for, and a cancellation the tech lead made, from a forged message.
 */
export class TaskRecords {
  private kv: Promise<TypedKv<typeof TaskRecord>> | undefined;

  constructor(private readonly bus: Bus) {}

  /** The task's record, or null when it has none. Throws InvalidRecordError when it does not parse. */
  private async get(taskId: string): Promise<TaskRecord | null> {
    this.kv ??= this.bus.kv(BUCKETS.tasks, TaskRecord).catch((err: unknown) => {
      this.kv = undefined;
      throw err;
    });
    return (await (await this.kv).get(taskId))?.value ?? null;
  }

  /** Why to refuse `job` (see `jobRefusal`), or null to run it. */
  async refusal(job: GpuJob): Promise<string | null> {
    try {
      return jobRefusal(await this.get(job.taskId), job);
    } catch (err) {
      if (err instanceof InvalidRecordError) return `the task's record does not parse (${err.issues.slice(0, 200)})`;
      throw err;
    }
  }

  /**
   * Whether a task is cancelled: its record says so. For a task the tech lead does not know, `unknown`
   * answers (e.g. a `task.cancelled` event); a record that does not parse cancels nothing.
   */
  async cancelled(taskId: string, unknown: () => Promise<boolean>): Promise<boolean> {
    try {
      const task = await this.get(taskId);
      return task ? task.state === "cancelled" : await unknown();
    } catch (err) {
      if (err instanceof InvalidRecordError) return false;
      throw err;
    }
  }
}

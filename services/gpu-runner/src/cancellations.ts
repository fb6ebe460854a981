import type { BusSubscription } from "@mllead/bus";
import { parseEventSubject, SUBJECTS } from "@mllead/contracts";
import type { RunnerCore } from "./runner-core.js";

/**
 * Stops the jobs of a task when it is cancelled: every `task.cancelled` event (a core subscription sees each
 * JetStream publish) of a task with jobs here is checked against the task's record, since anyone can publish
 * on the subject; only a cancellation the record shows stops its jobs (reported `cancelled`).
 */
export async function watchCancellations(core: RunnerCore): Promise<BusSubscription> {
  return core.bus.subscribe(SUBJECTS.event({ type: "task.cancelled", taskId: "*" }), (msg) => {
    const taskId = parseEventSubject(msg.subject)?.taskId;
    if (!taskId || core.held.ofTask(taskId).length === 0) return;
    core.records
      .cancelled(taskId, async () => true)
      .then((cancelled) => {
        if (!cancelled) {
          core.log.warn({ taskId, subject: msg.subject }, "ignored a cancellation the task's record does not show");
          return;
        }
        for (const [jobId, h] of core.held.ofTask(taskId)) {
          core.log.info({ jobId, taskId }, "task cancelled; stopping its job");
          h.cancelled = true;
          h.abort.abort();
        }
      })
      .catch((err: unknown) =>
        core.log.error({ err, taskId }, "could not check a cancellation against the task's record; its jobs go on"),
      );
  });
}

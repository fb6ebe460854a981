import { type GpuJob, type JobResult, lastEvent, SUBJECTS } from "@mllead/contracts";
import { bestEffort, ShuttingDownError } from "@mllead/service-kit";
import type { Logger } from "pino";
import { DevicesBusyError, TransientFailureError } from "./errors.js";
import type { Held } from "./held-jobs.js";
import { notRunResult } from "./job-events.js";
import { emitFinished, type RunnerCore } from "./runner-core.js";

/**
 * Runs a job whose claim this runner holds on the runner's backend (its own GPUs, or Slurm; see backends/):
 * reports it cancelled when its task was cancelled before it started, runs it (progress published in order) and
 * records the result — or, when the runner's shutdown stopped it, hands it back (or, for a Slurm job that goes
 * on, keeps the claim) and throws ShuttingDownError so the message is redelivered. A job that could not start
 * because NATS or Slurm did not answer (a TransientFailureError) is handed back the same way.
 */
export async function runClaimedJob(core: RunnerCore, job: GpuJob, h: Held, log: Logger): Promise<void> {
  const cancelledEvent = async () =>
    (await lastEvent(core.bus, SUBJECTS.event({ type: "task.cancelled", taskId: job.taskId }))) !== null;
  if (await core.records.cancelled(job.taskId, cancelledEvent)) {
    if (h.slurmJobId === undefined) {
      await finishJob(core, job, h, notRunResult("the task was cancelled before the job started", core.host, "cancelled"), log);
      return;
    }
    // A Slurm job submitted before the runner went down is still running on the cluster: stop it there.
    h.cancelled = true;
    h.abort.abort();
  }
  const run = await core.backend.run(job, h, log).catch(async (err: unknown) => {
    if (!(err instanceof TransientFailureError)) throw err;
    // NATS or Slurm did not answer for a passing reason before the job ran: not the job's fault. The claim goes back
    // so that any runner may take the job at the message's next delivery (thrown, the message is redelivered later).
    log.warn({ err }, "handing the job back: something it needs did not answer; a later delivery runs it");
    await bestEffort("release the claim of a job handed back", log, () => core.held.handBack(job, h));
    throw err;
  });
  switch (run.kind) {
    case "busy":
      // Busy here, free elsewhere: hand the claim back and let the message go to the runner with room.
      await bestEffort("release the claim of a job handed on", log, () => core.held.handBack(job, h));
      throw new DevicesBusyError(`job ${job.jobId} waits for busy devices here; another runner has room`);
    case "shutdown":
      if (run.handBack) await bestEffort("release the claim of a job stopped by shutdown", log, () => core.held.handBack(job, h));
      throw new ShuttingDownError(run.reason);
    case "finished":
      await finishJob(core, job, h, run.result, log);
      return;
    default: {
      const never: never = run;
      throw new Error(`unknown backend run ${JSON.stringify(never)}`);
    }
  }
}

/** Records the result in the job's claim, publishes `job.finished` and counts it. */
async function finishJob(core: RunnerCore, job: GpuJob, h: Held, result: JobResult, log: Logger): Promise<void> {
  if (!(await core.held.finish(job, h, result))) log.warn("the job's claim changed while it ran; publishing its result anyway");
  await emitFinished(core, job, result);
  core.metrics.finished(result.outcome);
  log.info({ outcome: result.outcome, exitCode: result.exitCode, durationMs: result.durationMs }, "job finished");
}

import { emitEvent, type GpuJob, type JobProgress, type JobResult, lastEvent, SUBJECTS } from "@mllead/contracts";
import { bestEffort, ShuttingDownError } from "@mllead/service-kit";
import type { Logger } from "pino";
import type { Allocation, AllocationResult } from "./allocator.js";
import { DevicesBusyError } from "./errors.js";
import type { Held } from "./held-jobs.js";
import { jobProgressed, jobStarted, notRunResult } from "./job-events.js";
import { type Execution, executeJob } from "./job-executor.js";
import { emitFinished, type RunnerCore } from "./runner-core.js";

/**
 * Runs a job whose claim this runner holds: reports it cancelled when its task was cancelled before it started,
 * waits for its devices, runs it (progress published in order) and records the result — or, when the runner's
 * shutdown stopped it, hands it back and throws ShuttingDownError so the message is redelivered.
 */
export async function runClaimedJob(core: RunnerCore, job: GpuJob, h: Held, log: Logger): Promise<void> {
  const cancelledEvent = async () =>
    (await lastEvent(core.bus, SUBJECTS.event({ type: "task.cancelled", taskId: job.taskId }))) !== null;
  if (await core.records.cancelled(job.taskId, cancelledEvent)) {
    await finishJob(core, job, h, notRunResult("the task was cancelled before the job started", core.host, "cancelled"), log);
    return;
  }
  const got = await devicesFor(core, job, h, log).catch((err: unknown) => {
    // The wait for devices ends with an abort when the runner stops; anything else is a fault.
    if (core.shutdown.aborted) return null;
    throw err;
  });
  if (!got) throw new ShuttingDownError("runner is shutting down");
  if (got.kind === "busy") {
    // Busy here, free elsewhere: hand the claim back and let the message go to the runner with room.
    await bestEffort("release the claim of a job handed on", log, () => core.held.handBack(job, h));
    throw new DevicesBusyError(`job ${job.jobId} waits for busy devices here; another runner has room`);
  }
  if (got.kind === "impossible") {
    await finishJob(core, job, h, notRunResult(got.reason, core.host), log);
    return;
  }
  const exec = await runOnDevices(core, job, h, got.allocation, log);
  if (exec.stopped && !h.cancelled) {
    // Shutdown: hand the job back; another runner (or this one, restarted) runs it again. Should the claim not
    // change, its lease goes stale and another runner takes it all the same.
    await bestEffort("release the claim of a job stopped by shutdown", log, () => core.held.handBack(job, h));
    throw new ShuttingDownError(`job ${job.jobId} was stopped by the runner's shutdown`);
  }
  await finishJob(core, job, h, exec.result, log);
}

/**
 * Waits for the job's devices: granted at once, or the moment a running job frees them (the allocator wakes its
 * waiters, no poll). Meanwhile, every `handOnCheckMs`, it looks whether another live runner has room for the job;
 * if so the wait ends with `busy` and the job is handed on. A job taken up from its claim at start just waits.
 */
async function devicesFor(core: RunnerCore, job: GpuJob, h: Held, log: Logger): Promise<AllocationResult> {
  const handOn = new AbortController();
  const look = () =>
    core
      .roomElsewhere(job.gpus)
      .then((room) => room && handOn.abort())
      .catch((err: unknown) => log.warn({ err }, "could not look for a runner with room; the job waits here"));
  const timer = h.resumed ? undefined : setInterval(look, core.handOnCheckMs);
  try {
    return await core.allocator.acquire(job.jobId, job.gpus, AbortSignal.any([core.shutdown, handOn.signal]));
  } catch (err) {
    if (handOn.signal.aborted && !core.shutdown.aborted) return { kind: "busy" };
    throw err;
  } finally {
    clearInterval(timer);
  }
}

/** Runs the job on the devices it was given, publishing `job.started` and its progress; frees the devices after. */
async function runOnDevices(core: RunnerCore, job: GpuJob, h: Held, allocation: Allocation, log: Logger): Promise<Execution> {
  core.metrics.setRunning(core.allocator.running().length);
  await emitEvent(core.bus, jobStarted(job, h.run, core.host, core.runnerId, allocation.devices));
  log.info({ devices: allocation.devices, run: h.run, command: job.command[0] }, "job started");
  // Progress events go out one after another, in the order the job printed them.
  let progressChain = Promise.resolve();
  const onProgress = (progress: JobProgress) => {
    progressChain = progressChain
      .then(() => emitEvent(core.bus, jobProgressed(job, h.run, progress)))
      .catch((err: unknown) => log.warn({ err }, "could not publish progress"));
  };
  const stopOnShutdown = () => h.abort.abort();
  core.shutdown.addEventListener("abort", stopOnShutdown, { once: true });
  try {
    return await executeJob(core.executor, job, allocation, {
      onProgress,
      signal: h.abort.signal,
      log,
      skipUploads: () => core.shutdown.aborted && !h.cancelled,
      onProcessEnd: () => {
        core.allocator.release(job.jobId);
        core.metrics.setRunning(core.allocator.running().length);
      },
    });
  } finally {
    core.shutdown.removeEventListener("abort", stopOnShutdown);
    core.allocator.release(job.jobId);
    core.metrics.setRunning(core.allocator.running().length);
    await progressChain;
  }
}

/** Records the result in the job's claim, publishes `job.finished` and counts it. */
async function finishJob(core: RunnerCore, job: GpuJob, h: Held, result: JobResult, log: Logger): Promise<void> {
  if (!(await core.held.finish(job, h, result))) log.warn("the job's claim changed while it ran; publishing its result anyway");
  await emitFinished(core, job, result);
  core.metrics.finished(result.outcome);
  log.info({ outcome: result.outcome, exitCode: result.exitCode, durationMs: result.durationMs }, "job finished");
}

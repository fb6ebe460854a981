import { emitEvent, type GpuJob, type JobProgress } from "@mllead/contracts";
import type { Logger } from "pino";
import type { Allocation, AllocationResult } from "../allocator.js";
import type { Held } from "../held-jobs.js";
import { jobProgressed, jobStarted, notRunResult } from "../job-events.js";
import { type Execution, executeJob } from "../job-executor.js";
import type { RunnerCore } from "../runner-core.js";
import type { BackendRun, JobBackend } from "./backend.js";

/** The runner's own GPUs: each job waits for its devices, then runs as a sandboxed process on this host. */
export function localBackend(core: Omit<RunnerCore, "backend">): JobBackend {
  return {
    kind: "local",
    placesOnOwnGpus: true,
    run: async (job, h, log): Promise<BackendRun> => {
      const got = await devicesFor(core, job, h, log).catch((err: unknown) => {
        // The wait for devices ends with an abort when the runner stops; anything else is a fault.
        if (core.shutdown.aborted) return null;
        throw err;
      });
      if (!got) return { kind: "shutdown", handBack: false, reason: "runner is shutting down" };
      if (got.kind === "busy") return { kind: "busy" };
      if (got.kind === "impossible") return { kind: "finished", result: notRunResult(got.reason, core.host) };
      const exec = await runOnDevices(core, job, h, got.allocation, log);
      // Shutdown: hand the job back; another runner (or this one, restarted) runs it again. Should the claim not
      // change, its lease goes stale and another runner takes it all the same.
      if (exec.stopped && !h.cancelled)
        return { kind: "shutdown", handBack: true, reason: `job ${job.jobId} was stopped by the runner's shutdown` };
      return { kind: "finished", result: exec.result };
    },
  };
}

/**
 * Waits for the job's devices: granted at once, or the moment a running job frees them (the allocator wakes its
 * waiters, no poll). Meanwhile, every `handOnCheckMs`, it looks whether another live runner has room for the job;
 * if so the wait ends with `busy` and the job is handed on. A job taken up from its claim at start just waits.
 */
async function devicesFor(core: Omit<RunnerCore, "backend">, job: GpuJob, h: Held, log: Logger): Promise<AllocationResult> {
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
async function runOnDevices(
  core: Omit<RunnerCore, "backend">,
  job: GpuJob,
  h: Held,
  allocation: Allocation,
  log: Logger,
): Promise<Execution> {
  core.metrics.setRunning(core.allocator.running().length);
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
    // Inside the try: a failed publish (NATS electing a leader) must still free the devices, or every redelivery
    // of the job finds them held by itself.
    return await executeJob(core.executor, job, allocation, {
      onStart: async () => {
        await emitEvent(core.bus, jobStarted(job, h.run, core.host, core.runnerId, allocation.devices));
        log.info({ devices: allocation.devices, run: h.run, command: job.command[0] }, "job started");
        core.metrics.started(job);
      },
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

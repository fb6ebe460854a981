import type { EventOf, GpuJob, JobOutcome, JobProgress, JobResult } from "@mllead/contracts";

/**
 * The runner's events, with deterministic eventIds (the JetStream msgID): a retried
 * publish is dropped by the server. `run` separates a rerun after an interruption.
 */
const base = (job: GpuJob) => ({
  v: 1 as const,
  taskId: job.taskId,
  stepId: job.stepId,
  jobId: job.jobId,
  at: new Date().toISOString(),
});

/** `job.started`: where the job runs and on which devices (GPU UUIDs; empty on a CPU slot). */
export function jobStarted(job: GpuJob, run: number, host: string, runnerId: string, devices: string[]): EventOf<"job.started"> {
  return { ...base(job), type: "job.started", eventId: `job.started:${job.jobId}:${run}`, host, runnerId, devices };
}

/** `job.progress`: one per step number per run. */
export function jobProgressed(job: GpuJob, run: number, progress: JobProgress): EventOf<"job.progress"> {
  return { ...base(job), type: "job.progress", eventId: `job.progress:${job.jobId}:${run}:${progress.step}`, progress };
}

/** `job.finished`: exactly one per job, whichever run produced it. */
export function jobFinished(job: GpuJob, result: JobResult): EventOf<"job.finished"> {
  return { ...base(job), type: "job.finished", eventId: `job.finished:${job.jobId}`, result };
}

/** The result of a job that never ran, with the reason as its log tail. */
export function notRunResult(reason: string, host: string, outcome: JobOutcome = "failed"): JobResult {
  return {
    outcome,
    exitCode: null,
    signal: null,
    durationMs: 0,
    metrics: {},
    artifacts: [],
    logTail: [`[mllead] ${reason}`],
    host,
  };
}

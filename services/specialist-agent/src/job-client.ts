import { createHash } from "node:crypto";
import type { GpuJobSpec } from "@mllead/brain";
import type { Bus } from "@mllead/bus";
import {
  emitEvent,
  GpuJob,
  type JobResult,
  type JobWorktree,
  jobIdFor,
  lastEvent,
  SUBJECTS,
  waitForEvent,
} from "@mllead/contracts";
import type { Logger } from "pino";
import { GpuJobTimeoutError, infra, stepShuttingDown } from "./errors.js";

/** Which step attempt a job belongs to. */
export interface JobOwner {
  taskId: string;
  stepId: string;
  attempt: number;
}

/** Timing of the wait for `job.finished`. */
export interface JobWaitOptions {
  /** Added to the job's own timeout: time to be picked up by a runner and report back (s). Default 600. */
  marginSec?: number;
  /** Longest pause between two looks at the job's result (ms); a published result wakes the wait at once. Default 5000. */
  pollMs?: number;
  /** Aborted at shutdown: the wait stops and the step is redelivered (and re-attaches) later. */
  signal?: AbortSignal;
}

/**
 * The id of a job from its content: the same command, worktree (its git tree id), files, inputs,
 * environment and resources in the same step attempt is the same job, so a step replayed after a crash
 * finds the job it submitted before instead of running it again.
 */
export function jobIdForSpec(owner: JobOwner, spec: GpuJobSpec, worktree?: Pick<JobWorktree, "tree">): string {
  const files = [...(spec.files ?? [])]
    .sort((a, b) => a.path.localeCompare(b.path))
    .map((f) => [f.path, createHash("sha256").update(f.content).digest("hex")]);
  const inputs = [...(spec.inputs ?? [])].sort((a, b) => a.path.localeCompare(b.path)).map((i) => [i.path, i.objectName]);
  const env = Object.entries(spec.env ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const parts: unknown[] = [spec.command, files, inputs, env, spec.gpus ?? 1, spec.timeoutSec ?? null];
  // Appended only when shipped, so the ids of jobs without a worktree stay as they were.
  if (worktree) parts.push(worktree.tree);
  const content = JSON.stringify(parts);
  return jobIdFor(owner.taskId, owner.stepId, owner.attempt, content);
}

/**
 * Submits a GPU job (with the shipped `worktree`, if any) at most once and waits for its result. Re-attaches first:
 * a job that already finished returns its result; one already queued is not
 * queued again (the msgID dedupes a re-publish inside the window, the
 * `job.queued` check beyond it).
 */
export async function runGpuJob(
  bus: Bus,
  owner: JobOwner,
  jobId: string,
  spec: GpuJobSpec,
  log: Logger,
  opts: JobWaitOptions = {},
  worktree?: JobWorktree,
): Promise<{ jobId: string; result: JobResult }> {
  const { taskId, stepId } = owner;
  const finishedSubject = SUBJECTS.event({ type: "job.finished", taskId, jobId });
  const done = await infra("looking up the job", () => lastEvent(bus, finishedSubject));
  // A payload that names another job or task than its subject is not this job's result.
  if (done?.type === "job.finished" && done.jobId === jobId && done.taskId === taskId) {
    log.info({ jobId, outcome: done.result.outcome }, "re-attached to a finished GPU job");
    return { jobId, result: done.result };
  }

  const job = GpuJob.parse({
    v: 1,
    jobId,
    taskId,
    stepId,
    attempt: owner.attempt,
    command: spec.command,
    ...(worktree ? { worktree } : {}),
    files: spec.files ?? [],
    inputs: spec.inputs ?? [],
    // The model's own variables for its job; the runner drops MLLEAD_* names and adds only allow-listed host ones.
    env: spec.env ?? {},
    ...(spec.gpus !== undefined ? { gpus: spec.gpus } : {}),
    ...(spec.timeoutSec !== undefined ? { timeoutSec: spec.timeoutSec } : {}),
    submittedAt: new Date().toISOString(),
  });
  const queued = await infra("looking up the job", () => lastEvent(bus, SUBJECTS.event({ type: "job.queued", taskId, jobId })));
  if (queued) {
    log.info({ jobId }, "re-attached to a queued GPU job");
  } else {
    await infra("submitting the GPU job", () => bus.publish(SUBJECTS.gpuJob, GpuJob, job, jobId));
    await infra("reporting the queued job", () =>
      emitEvent(bus, {
        v: 1,
        type: "job.queued",
        eventId: `job.queued:${taskId}:${jobId}`,
        taskId,
        stepId,
        jobId,
        gpus: job.gpus,
        at: new Date().toISOString(),
      }),
    );
    log.info({ jobId, gpus: job.gpus }, "GPU job queued");
  }
  const waitSec = job.timeoutSec + (opts.marginSec ?? 600);
  return { jobId, result: await waitForFinished(bus, finishedSubject, jobId, waitSec, log, opts) };
}

/**
 * Waits for the job's `job.finished`: the last event stored on that one subject, looked up again whenever
 * one is published there and at least every `pollMs`, so a result published between the look-up and this
 * wait is not missed. No consumer is created: the specialist's NATS user may create none on the events stream.
 */
async function waitForFinished(
  bus: Bus,
  subject: string,
  jobId: string,
  waitSec: number,
  log: Logger,
  opts: JobWaitOptions,
): Promise<JobResult> {
  const deadline = Date.now() + waitSec * 1000;
  while (Date.now() < deadline) {
    if (opts.signal?.aborted) throw stepShuttingDown(`stopped waiting for GPU job ${jobId}: shutting down`);
    const event = await infra("waiting for the job result", () =>
      waitForEvent(bus, subject, {
        timeoutMs: Math.max(0, deadline - Date.now()),
        ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    );
    // A payload that names another job or task than the subject is not this job's result (anyone could store one there).
    if (event?.type === "job.finished" && subject === SUBJECTS.event(event)) return event.result;
    if (event) {
      log.warn(
        { jobId, type: event.type, about: event.taskId },
        "ignoring an event on the job's finished subject that is not its result",
      );
      // It stays the last event there until the real result comes: look again later, not at once.
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(opts.pollMs ?? 5000, deadline - Date.now()))));
    }
  }
  throw new GpuJobTimeoutError(jobId, waitSec);
}

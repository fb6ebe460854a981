import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { isTransientNatsError } from "@mllead/bus";
import { emitEvent, type GpuJob, type JobProgress, lastEvent, SUBJECTS } from "@mllead/contracts";
import type { ProcessOutcome } from "@mllead/sandbox";
import { bestEffort } from "@mllead/service-kit";
import type { ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import { buildJobEnv } from "../env.js";
import { natsUnavailable, TransientFailureError } from "../errors.js";
import type { Held } from "../held-jobs.js";
import { jobProgressed, jobStarted } from "../job-events.js";
import { collectResult, freshJobDirs, type JobDirs, prepareWork } from "../job-executor.js";
import { type JobOutput, jobOutput } from "../job-log.js";
import type { RunnerCore } from "../runner-core.js";
import type { SlurmPort } from "../slurm-cli.js";
import { type ScriptSandbox, SLURM_FILES, sbatchArgs, writeBatchScript } from "../slurm-script.js";
import type { BackendRun, JobBackend } from "./backend.js";
import { followSlurmJob, OutputFollower } from "./slurm-follow.js";
import { SUBMIT_RETRY, type SubmitRetry, submitPatiently } from "./slurm-submit.js";

/** The Slurm backend's settings (MLLEAD_SLURM_*). */
export interface SlurmSettings {
  /** How often a job's state and output are read (ms). */
  pollMs: number;
  partition?: string | undefined;
  /** More sbatch options for every job (an account, a QoS). */
  extraArgs: readonly string[];
  /** How the batch script isolates the job on the compute node. */
  sandbox: ScriptSandbox;
  /** How often and how far apart sbatch is asked again while slurmctld does not answer. Default `SUBMIT_RETRY`. */
  submitRetry?: SubmitRetry;
}

type Core = Omit<RunnerCore, "backend">;

/** The name of a job's Slurm job: how a runner finds a job submitted just before it died (id not yet recorded). */
export function slurmJobName(job: GpuJob): string {
  return `mllead-${job.jobId}`;
}

/**
 * Jobs run as Slurm batch jobs: the runner (on a login node) prepares the job directory on the shared
 * filesystem, submits it with `sbatch`, records the Slurm job id in the claim, follows it until it ends and
 * collects its result as the local executor does. A job whose claim (or the cluster) names a Slurm job already is
 * followed again, never submitted twice.
 */
export function slurmBackend(core: Core, slurm: SlurmPort, settings: SlurmSettings): JobBackend {
  // mllead_runner_jobs_running counts the Slurm jobs this runner submits or follows.
  let following = 0;
  return {
    kind: "slurm",
    placesOnOwnGpus: false,
    run: async (job, h, log) => {
      core.metrics.setRunning(++following);
      try {
        return await runOnSlurm(core, slurm, settings, job, h, log);
      } finally {
        core.metrics.setRunning(--following);
      }
    },
  };
}

async function runOnSlurm(
  core: Core,
  slurm: SlurmPort,
  s: SlurmSettings,
  job: GpuJob,
  h: Held,
  log: Logger,
): Promise<BackendRun> {
  const deps = core.executor;
  const os = await deps.objects().catch((err: unknown) => {
    throw isTransientNatsError(err) ? natsUnavailable(err) : err;
  });
  let dirs: JobDirs = { root: join(deps.jobsDir, job.jobId), work: "", artifacts: "" };
  dirs = { ...dirs, work: join(dirs.root, "work"), artifacts: join(dirs.root, "artifacts") };
  const known = h.slurmJobId ?? (await slurm.findByName(slurmJobName(job)));
  let output: JobOutput;
  let slurmJobId: string | null = known;
  if (known) {
    // Submitted before this runner (or its previous run) went down: its directory and output are on the cluster.
    await mkdir(dirs.root, { recursive: true });
    output = jobOutput(join(dirs.root, "job.log"), deps.logMaxBytes);
    log.info({ slurmJobId: known, run: h.run }, "following the job's Slurm job again");
    if (h.slurmJobId !== known && !(await core.held.recordSlurmJob(job, h, known)))
      log.warn({ slurmJobId: known }, "could not record the Slurm job in the job's claim");
  } else {
    dirs = await freshJobDirs(deps.jobsDir, job.jobId);
    output = jobOutput(join(dirs.root, "job.log"), deps.logMaxBytes);
    slurmJobId = await submit(core, slurm, s, job, h, dirs, os, output, log);
  }
  let proc: ProcessOutcome = { exitCode: null, signal: null, timedOut: false, stopped: false, durationMs: 0 };
  let node: string | null = null;
  if (slurmJobId) {
    const followed = await follow(core, slurm, s, job, h, slurmJobId, dirs, output, log);
    if (followed.kind === "detached") {
      await output.logFile.close();
      log.info({ slurmJobId }, "runner stopping: the Slurm job goes on; the restarted runner follows it again");
      return { kind: "shutdown", handBack: false, reason: `runner is shutting down; Slurm job ${slurmJobId} goes on` };
    }
    ({ proc, node } = followed);
  }
  const result = await collectResult(deps, job, dirs, output, proc, os, { log, signal: h.abort.signal, onProgress: () => {} });
  if (node) result.host = node;
  if (!deps.keepJobDirs) await bestEffort("remove the job directory", log, () => rm(dirs.root, { recursive: true, force: true }));
  return { kind: "finished", result };
}

/**
 * Prepares the job directory and submits the job; its Slurm job id, or null (noted) when it could not be. Throws a
 * TransientFailureError (the job is handed back) when NATS or slurmctld did not answer for a passing reason.
 */
async function submit(
  core: Core,
  slurm: SlurmPort,
  s: SlurmSettings,
  job: GpuJob,
  h: Held,
  dirs: JobDirs,
  os: ObjectStore,
  output: JobOutput,
  log: Logger,
): Promise<string | null> {
  const deps = core.executor;
  let id: string;
  try {
    await prepareWork(os, job, dirs);
    // Slurm sets CUDA_VISIBLE_DEVICES on the node; the script hands it on (see slurm-script.ts).
    const env = buildJobEnv(
      deps.hostEnv,
      job.env,
      { CUDA_VISIBLE_DEVICES: "", MLLEAD_ARTIFACTS_DIR: dirs.artifacts, MLLEAD_JOB_ID: job.jobId },
      deps.envPass,
      deps.sandboxSettings.python,
    );
    const { CUDA_VISIBLE_DEVICES: _set, ...jobEnv } = env;
    const script = await writeBatchScript(job, dirs, jobEnv, s.sandbox);
    const args = sbatchArgs(job, dirs, { partition: s.partition, extra: s.extraArgs });
    id = await submitPatiently(
      slurm,
      { script, args, name: slurmJobName(job) },
      { retry: s.submitRetry ?? SUBMIT_RETRY, stop: core.shutdown, log },
    );
  } catch (err) {
    if (err instanceof TransientFailureError || isTransientNatsError(err)) {
      // NATS (the job's inputs) or slurmctld did not answer: not the job's fault. The job goes back, and a later
      // delivery prepares and submits it afresh — or follows the Slurm job of a submission whose answer was lost,
      // should the controller have taken one after all: so the directory stays once a submission was tried.
      await output.logFile.close();
      if (err instanceof TransientFailureError) throw err;
      if (!deps.keepJobDirs)
        await bestEffort("remove the job directory", log, () => rm(dirs.root, { recursive: true, force: true }));
      throw natsUnavailable(err);
    }
    // Preparing or submitting failed (a missing input, sbatch refusing the request): the job fails, the runner goes on.
    log.warn({ err }, "could not submit the job to Slurm");
    output.note(`could not submit the job to Slurm: ${(err as Error).message}`);
    return null;
  }
  log.info({ slurmJobId: id, gpus: job.gpus, output: join(dirs.root, SLURM_FILES.output) }, "submitted to Slurm");
  if (!(await core.held.recordSlurmJob(job, h, id)))
    log.warn({ slurmJobId: id }, "could not record the Slurm job in the job's claim");
  return id;
}

/** Follows the Slurm job, publishing `job.started` (once per job) and its progress in order. */
async function follow(
  core: Core,
  slurm: SlurmPort,
  s: SlurmSettings,
  job: GpuJob,
  h: Held,
  slurmJobId: string,
  dirs: JobDirs,
  output: JobOutput,
  log: Logger,
) {
  let progressChain = Promise.resolve();
  const onProgress = (progress: JobProgress) => {
    progressChain = progressChain
      .then(() => emitEvent(core.bus, jobProgressed(job, h.run, progress)))
      .catch((err: unknown) => log.warn({ err }, "could not publish progress"));
  };
  const follower = new OutputFollower(join(dirs.root, SLURM_FILES.output), output, onProgress, core.executor.progressIntervalMs);
  const onStarted = async (node: string | null) => {
    // A runner following the job again after a restart does not announce it a second time.
    const subject = SUBJECTS.event({ type: "job.started", taskId: job.taskId, jobId: job.jobId });
    if (h.resumed && (await lastEvent(core.bus, subject))) return;
    await emitEvent(core.bus, jobStarted(job, h.run, node ?? core.host, core.runnerId, []));
    log.info({ slurmJobId, node, run: h.run, command: job.command[0] }, "Slurm job started");
    core.metrics.started(job);
  };
  try {
    return await followSlurmJob(
      { slurm, pollMs: s.pollMs, cancel: h.abort.signal, shutdown: core.shutdown, log, onStarted },
      slurmJobId,
      job.timeoutSec,
      { follower, note: output.note },
    );
  } finally {
    await progressChain;
  }
}

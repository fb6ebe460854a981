import { writeFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isTransientNatsError } from "@mllead/bus";
import type { GpuJob, JobOutcome, JobProgress, JobResult } from "@mllead/contracts";
import { LineSplitter, type ProcessOutcome, type ProcessSpec, resolveInside, type SandboxPolicy } from "@mllead/sandbox";
import { bestEffort } from "@mllead/service-kit";
import type { ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import type { Allocation } from "./allocator.js";
import { artifactObjectName, downloadInput, readMetrics, uploadArtifacts, uploadFile } from "./artifacts.js";
import { buildJobEnv } from "./env.js";
import { natsUnavailable, PathEscapeError } from "./errors.js";
import { type JobOutput, jobOutput } from "./job-log.js";
import { type JobSandboxSettings, jobPolicy } from "./job-sandbox.js";
import { PGID_FILE } from "./orphans.js";
import { ProgressThrottle, parseOutputLine } from "./progress.js";
import { unpackWorktree } from "./worktree-unpack.js";

/** What the executor needs from the runner; everything outside sits behind these. */
export interface ExecutorDeps {
  /** Absolute directory under which each job gets `<jobId>/`. */
  jobsDir: string;
  host: string;
  hostEnv: Readonly<Record<string, string | undefined>>;
  envPass: readonly string[];
  killGraceMs: number;
  progressIntervalMs: number;
  logMaxBytes: number;
  artifactMaxBytes: number;
  keepJobDirs: boolean;
  objects: () => Promise<ObjectStore>;
  /** Starts the job's process under its sandbox policy (the runner's sandbox, see app.ts). */
  runSandboxed: (spec: ProcessSpec, policy: SandboxPolicy) => Promise<ProcessOutcome>;
  sandboxSettings: JobSandboxSettings;
  /** The device nodes a job with these GPU UUIDs needs (see job-sandbox.ts). */
  deviceNodes: (gpuUuids: readonly string[]) => string[];
}

/** The result of one run; `stopped` means it was aborted (shutdown or cancel) rather than finishing. */
export interface Execution {
  result: JobResult;
  stopped: boolean;
}

/** What `executeJob` is told besides the job: where progress goes, when to stop, and the job's logger. */
export interface ExecuteOptions {
  onProgress: (p: JobProgress) => void;
  signal: AbortSignal;
  log: Logger;
  /** Checked after the process ends: true skips uploads (a runner shutting down hands the job on instead). */
  skipUploads?: () => boolean;
  /**
   * Called once the job will run or fail on this runner (its inputs fetched, or fetching them failed for good),
   * before its process starts; not when the job is handed back because NATS did not answer. Where `job.started`
   * goes out, so a job handed back and run again elsewhere is not reported started twice. Its error is thrown.
   */
  onStart?: () => Promise<void>;
  /** Called once the job's process has ended (or could not start), before uploads: its devices are free again. */
  onProcessEnd?: () => void;
}

/** A job's directory (`<jobsDir>/<jobId>`, holding the runner's log and pid file), its `work` dir and `artifacts`. */
export interface JobDirs {
  root: string;
  work: string;
  artifacts: string;
}

function inside(root: string, rel: string): string {
  const p = resolveInside(root, rel);
  if (p === undefined) throw new PathEscapeError(`path '${rel}' leaves the job directory`);
  return p;
}

export function outcomeOf(p: ProcessOutcome): JobOutcome {
  if (p.timedOut) return "timed_out";
  if (p.stopped) return "cancelled";
  return p.exitCode === 0 && p.spawnError === undefined ? "succeeded" : "failed";
}

/**
 * Runs one job in a fresh directory: unpacks its shipped worktree there (see `unpackWorktree`: nothing lands
 * outside, no link leads out), writes its files, fetches its inputs, runs
 * its argv in the sandbox with the job environment, streams progress through
 * `onProgress` (throttled), and collects metrics, artifacts and the full log.
 */
export async function executeJob(
  deps: ExecutorDeps,
  job: GpuJob,
  allocation: Allocation,
  opts: ExecuteOptions,
): Promise<Execution> {
  const os = await deps.objects().catch((err: unknown) => {
    throw isTransientNatsError(err) ? natsUnavailable(err) : err;
  });
  const dirs = await freshJobDirs(deps.jobsDir, job.jobId);
  const output = jobOutput(join(dirs.root, "job.log"), deps.logMaxBytes);

  const unprepared = await prepareWork(os, job, dirs).then(
    () => null,
    (err: unknown) => err,
  );
  if (isTransientNatsError(unprepared)) {
    // NATS did not answer past getFile's retries (a cluster electing a leader): not the job's fault. Nothing ran,
    // so the job goes back whole and a later delivery runs it; the directory goes, the next run starts afresh.
    await discardJobDir(deps, dirs, output, opts.log);
    throw natsUnavailable(unprepared);
  }
  // From here the job runs, or fails, on this runner: it has started (and a hand-back above started nothing).
  try {
    await opts.onStart?.();
  } catch (err) {
    await discardJobDir(deps, dirs, output, opts.log);
    throw err;
  }
  let proc: ProcessOutcome;
  try {
    if (unprepared) throw unprepared;
    proc = await runInSandbox(deps, job, allocation, dirs, output, opts);
  } catch (err) {
    // Preparing the job failed (a missing input, a bad path): the job fails, the runner goes on.
    output.note(`could not prepare the job: ${(err as Error).message}`);
    proc = { exitCode: null, signal: null, timedOut: false, stopped: false, durationMs: 0 };
  }
  // The GPUs are free once the process is gone: the next job need not wait for this one's uploads.
  opts.onProcessEnd?.();

  const result = await collectResult(deps, job, dirs, output, proc, os, opts);
  if (!deps.keepJobDirs)
    await bestEffort("remove the job directory", opts.log, () => rm(dirs.root, { recursive: true, force: true }));
  else await bestEffort("remove the job's pid file", opts.log, () => rm(join(dirs.root, PGID_FILE), { force: true }));
  return { result, stopped: proc.stopped };
}

/** Empties (or creates) the job's directory with its `work` and `artifacts` dirs. */
export async function freshJobDirs(jobsDir: string, jobId: string): Promise<JobDirs> {
  const root = join(jobsDir, jobId);
  const dirs = { root, work: join(root, "work"), artifacts: join(root, "artifacts") };
  await rm(root, { recursive: true, force: true });
  await mkdir(dirs.work, { recursive: true });
  await mkdir(dirs.artifacts, { recursive: true });
  return dirs;
}

/** Closes the log of a job that will not run here and removes its directory (unless job directories are kept). */
async function discardJobDir(deps: ExecutorDeps, dirs: JobDirs, output: JobOutput, log: Logger): Promise<void> {
  await output.logFile.close();
  if (!deps.keepJobDirs) await bestEffort("remove the job directory", log, () => rm(dirs.root, { recursive: true, force: true }));
}

/** Fills `work`: the shipped worktree, the job's files and its inputs (each path kept inside `work`). */
export async function prepareWork(os: ObjectStore, job: GpuJob, dirs: JobDirs): Promise<void> {
  if (job.worktree) {
    // Beside `work`, not in it: the archive is the runner's, and is gone before the job starts.
    const archive = join(dirs.root, "worktree.tar.gz");
    await downloadInput(os, job.worktree.objectName, archive);
    await unpackWorktree(archive, dirs.work);
    await rm(archive, { force: true });
  }
  for (const f of job.files) {
    const p = inside(dirs.work, f.path);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, f.content);
  }
  for (const input of job.inputs) await downloadInput(os, input.objectName, inside(dirs.work, input.path));
}

/**
 * Runs the job's argv under its sandbox policy: stdout's progress lines go (throttled) to `onProgress`, every
 * other line to the tail, all bytes to the log file; how the process ended is noted in the log.
 */
async function runInSandbox(
  deps: ExecutorDeps,
  job: GpuJob,
  allocation: Allocation,
  dirs: JobDirs,
  output: JobOutput,
  opts: ExecuteOptions,
): Promise<ProcessOutcome> {
  const { logFile, tail, note } = output;
  const throttle = new ProgressThrottle(opts.onProgress, deps.progressIntervalMs);
  const stdout = new LineSplitter((line) => {
    const parsed = parseOutputLine(line);
    if (parsed.kind === "progress") throttle.offer(parsed.progress);
    else tail.push(parsed.line);
  });
  const stderr = new LineSplitter((line) => tail.push(line));
  const policy = jobPolicy(
    deps.sandboxSettings,
    { work: dirs.work, artifacts: dirs.artifacts },
    deps.deviceNodes(allocation.devices),
  );
  const proc = await deps.runSandboxed(
    {
      argv: job.command,
      cwd: dirs.work,
      env: buildJobEnv(
        deps.hostEnv,
        job.env,
        { CUDA_VISIBLE_DEVICES: allocation.cudaVisibleDevices, MLLEAD_ARTIFACTS_DIR: dirs.artifacts, MLLEAD_JOB_ID: job.jobId },
        deps.envPass,
        deps.sandboxSettings.python,
      ),
      timeoutMs: job.timeoutSec * 1000,
      killGraceMs: deps.killGraceMs,
      signal: opts.signal,
      // If this runner dies without stopping the job, its next start finds and kills the group (see orphans.ts).
      // Under bubblewrap the pid is bwrap's: killing it takes down the whole sandbox.
      onSpawn: (pid) => writeFileSync(join(dirs.root, PGID_FILE), String(pid)),
      onStdout: (c) => {
        logFile.write(c);
        stdout.write(c);
      },
      onStderr: (c) => {
        logFile.write(c);
        stderr.write(c);
      },
    },
    policy,
  );
  stdout.end();
  stderr.end();
  throttle.flush();
  if (proc.spawnError !== undefined) note(`could not start ${job.command[0]}: ${proc.spawnError}`);
  if (proc.stopped) note("the job was stopped before it finished");
  if (proc.timedOut) note(`timed out after ${job.timeoutSec}s; the job's processes were stopped`);
  return proc;
}

/**
 * The job's result: its outcome, metrics and log tail, and (unless `skipUploads`) its artifacts and full log
 * uploaded to the Object Store. A failed upload is logged and noted; the result still goes out.
 */
export async function collectResult(
  deps: ExecutorDeps,
  job: GpuJob,
  dirs: JobDirs,
  output: JobOutput,
  proc: ProcessOutcome,
  os: ObjectStore,
  opts: ExecuteOptions,
): Promise<JobResult> {
  const { logFile, tail, note } = output;
  const result: JobResult = {
    outcome: outcomeOf(proc),
    exitCode: proc.exitCode,
    signal: proc.signal,
    durationMs: proc.durationMs,
    metrics: await readMetrics(join(dirs.artifacts, "metrics.json"), opts.log),
    artifacts: [],
    logTail: [],
    host: deps.host,
  };
  const upload = !opts.skipUploads?.();
  if (upload) {
    try {
      result.artifacts = await uploadArtifacts({
        os,
        dir: dirs.artifacts,
        taskId: job.taskId,
        jobId: job.jobId,
        maxBytes: deps.artifactMaxBytes,
        log: opts.log,
      });
    } catch (err) {
      opts.log.error({ err }, "uploading artifacts failed");
      note(`uploading artifacts failed: ${(err as Error).message}`);
    }
  }
  result.logTail = tail.toArray();
  await logFile.close();
  if (upload) {
    try {
      result.artifacts.push(await uploadFile(os, logFile.path, "job.log", artifactObjectName(job.taskId, job.jobId, "job.log")));
    } catch (err) {
      opts.log.error({ err }, "uploading the job log failed");
    }
  }
  return result;
}

import { writeFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { GpuJob, JobOutcome, JobProgress, JobResult } from "@mllead/contracts";
import type { ProcessOutcome, ProcessSpec, SandboxPolicy } from "@mllead/sandbox";
import type { ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import type { Allocation } from "./allocator.js";
import { artifactObjectName, downloadInput, readMetrics, uploadArtifacts, uploadFile } from "./artifacts.js";
import { buildJobEnv } from "./env.js";
import { type JobSandboxSettings, jobPolicy } from "./job-sandbox.js";
import { CappedLogFile, LineSplitter, LogTail } from "./log-tail.js";
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

function inside(root: string, rel: string): string {
  const p = resolve(root, rel);
  if (p !== root && !p.startsWith(root + sep)) throw new Error(`path '${rel}' leaves the job directory`);
  return p;
}

function outcomeOf(p: ProcessOutcome): JobOutcome {
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
  opts: {
    onProgress: (p: JobProgress) => void;
    signal: AbortSignal;
    log: Logger;
    /** Checked after the process ends: true skips uploads (a runner shutting down hands the job on instead). */
    skipUploads?: () => boolean;
  },
): Promise<Execution> {
  const root = join(deps.jobsDir, job.jobId);
  const work = join(root, "work");
  const artifactsDir = join(root, "artifacts");
  await rm(root, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await mkdir(artifactsDir, { recursive: true });
  const logFile = new CappedLogFile(join(root, "job.log"), deps.logMaxBytes);
  const tail = new LogTail();
  const note = (text: string) => {
    tail.push(`[mllead] ${text}`);
    logFile.note(text);
  };
  const os = await deps.objects();

  let proc: ProcessOutcome;
  try {
    if (job.worktree) {
      // Beside `work`, not in it: the archive is the runner's, and is gone before the job starts.
      const archive = join(root, "worktree.tar.gz");
      await downloadInput(os, job.worktree.objectName, archive);
      await unpackWorktree(archive, work);
      await rm(archive, { force: true });
    }
    for (const f of job.files) {
      const p = inside(work, f.path);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, f.content);
    }
    for (const input of job.inputs) await downloadInput(os, input.objectName, inside(work, input.path));

    const throttle = new ProgressThrottle(opts.onProgress, deps.progressIntervalMs);
    const stdout = new LineSplitter((line) => {
      const parsed = parseOutputLine(line);
      if (parsed.kind === "progress") throttle.offer(parsed.progress);
      else tail.push(parsed.line);
    });
    const stderr = new LineSplitter((line) => tail.push(line));
    const policy = jobPolicy(deps.sandboxSettings, { work, artifacts: artifactsDir }, deps.deviceNodes(allocation.devices));
    proc = await deps.runSandboxed(
      {
        argv: job.command,
        cwd: work,
        env: buildJobEnv(
          deps.hostEnv,
          job.env,
          { CUDA_VISIBLE_DEVICES: allocation.cudaVisibleDevices, MLLEAD_ARTIFACTS_DIR: artifactsDir, MLLEAD_JOB_ID: job.jobId },
          deps.envPass,
          deps.sandboxSettings.python,
        ),
        timeoutMs: job.timeoutSec * 1000,
        killGraceMs: deps.killGraceMs,
        signal: opts.signal,
        // If this runner dies without stopping the job, its next start finds and kills the group (see orphans.ts).
        // Under bubblewrap the pid is bwrap's: killing it takes down the whole sandbox.
        onSpawn: (pid) => writeFileSync(join(root, PGID_FILE), String(pid)),
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
  } catch (err) {
    // Preparing the job failed (a missing input, a bad path): the job fails, the runner goes on.
    note(`could not prepare the job: ${(err as Error).message}`);
    proc = { exitCode: null, signal: null, timedOut: false, stopped: false, durationMs: 0 };
  }

  const result: JobResult = {
    outcome: outcomeOf(proc),
    exitCode: proc.exitCode,
    signal: proc.signal,
    durationMs: proc.durationMs,
    metrics: await readMetrics(join(artifactsDir, "metrics.json"), opts.log),
    artifacts: [],
    logTail: [],
    host: deps.host,
  };
  const upload = !opts.skipUploads?.();
  if (upload) {
    try {
      result.artifacts = await uploadArtifacts({
        os,
        dir: artifactsDir,
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
  if (!deps.keepJobDirs) await rm(root, { recursive: true, force: true }).catch(() => undefined);
  else await rm(join(root, PGID_FILE), { force: true }).catch(() => undefined);
  return { result, stopped: proc.stopped };
}

import { isAbsolute, relative, resolve, sep } from "node:path";
import type { GpuJobSpec, StepTools, TranscriptStore } from "@mllead/brain";
import type { Bus } from "@mllead/bus";
import type { StepWork } from "@mllead/contracts";
import { mergeEnv, pythonEnvVars } from "@mllead/sandbox";
import type { Logger } from "pino";
import { fetchArtifact, saveArtifact } from "./artifacts.js";
import { infra, StepToolError } from "./errors.js";
import { ignoredPaths } from "./ignored-files.js";
import { type JobWaitOptions, jobIdForSpec, runGpuJob } from "./job-client.js";
import type { StepEnvironment } from "./step-env.js";
import { diffFromBase } from "./task-diff.js";
import type { TaskWorktree } from "./task-worktree.js";
import type { Workspace } from "./workspace.js";
import { shipWorktree } from "./worktree-ship.js";

function isInside(root: string, path: string): boolean {
  const rel = relative(root, resolve(path));
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** The largest diff the code reviewer is handed (bytes); the rest it reads file by file. */
const REVIEW_DIFF_BYTES = 200 * 1024;

/** Limits and surroundings of the tools given to one step. */
export interface ToolSettings {
  /** Every command's environment: already the allow-list (PATH, HOME, TMPDIR, LANG, LC_*, MLLEAD_SANDBOX_ENV; see config.ts). */
  baseEnv: Readonly<Record<string, string | undefined>>;
  /** Default command timeout (s) when the brain gives none. */
  commandTimeoutSec: number;
  /** Longest command timeout a brain may ask for (s). */
  maxCommandTimeoutSec: number;
  /** SIGTERM → SIGKILL grace for a timed-out command (ms). */
  killGraceMs: number;
  /** Bytes of stdout/stderr kept per command (the tail). */
  maxOutputBytes: number;
  gpuWait: JobWaitOptions;
  /** The largest worktree a GPU job ships (bytes of the uncompressed archive; MLLEAD_JOB_MAX_SHIP_MB). */
  maxShipBytes: number;
}

/**
 * The `StepTools` one step attempt works with: files in the task's git
 * worktree, commands in the sandbox (the worktree read-write, the team's data
 * dirs read-only, nothing else of the host), artifacts in the Object Store, GPU
 * jobs and progress lines. Job ids come from the job's content and progress
 * ids are counted per attempt, so a re-run after a crash re-attaches instead of
 * duplicating.
 */
export function createStepTools(deps: {
  bus: Bus;
  ws: Workspace;
  wt: TaskWorktree;
  env: StepEnvironment;
  work: StepWork;
  log: Logger;
  settings: ToolSettings;
  transcript: TranscriptStore;
}): StepTools {
  const { bus, ws, wt, env, work, log, settings } = deps;
  const sandbox = env.settings.sandbox;
  const policy = {
    workdir: wt.root,
    // git log/diff/status inside the sandbox read the repository (the worktree's own git dir is inside it);
    // nothing of it is writable: HEAD, the index and the refs are the service's (see worktree-guard.ts).
    // The team's Python environment (and its base Python outside /usr) read-only: no step changes what later ones run.
    readOnly: [wt.gitCommonDir, ...env.settings.dataDirs, ...(env.pythonEnv?.env.mounts ?? [])],
    network: sandbox.network,
    limits: sandbox.limits,
  };
  // Its bin first on PATH, VIRTUAL_ENV or CONDA_PREFIX set: `python` is the team's interpreter.
  const baseEnv = env.pythonEnv
    ? mergeEnv(settings.baseEnv, pythonEnvVars(env.pythonEnv.env, settings.baseEnv))
    : settings.baseEnv;
  const owner = { taskId: work.taskId, stepId: work.stepId, attempt: work.attempt };
  const files = ws.withDataDirs(env.settings.dataDirs);
  let progressCount = 0;

  return {
    log,
    root: ws.root,
    repo: {
      branch: wt.branch,
      baseCommit: wt.baseCommit,
      diff: async () => {
        const d = await diffFromBase(wt, { maxBytes: REVIEW_DIFF_BYTES });
        return { diff: d.diff, truncated: d.truncated, files: d.files.map((f) => ({ status: f.status, path: f.path })) };
      },
    },
    transcript: deps.transcript,
    sandbox: {
      kind: env.sandbox.kind,
      network: sandbox.network,
      dataDirs: env.settings.dataDirs,
      ...(env.sandbox.warning ? { warning: env.sandbox.warning } : {}),
      ...(env.python ? { python: env.python } : {}),
    },
    // Read, Glob and Grep may also read the team's data dirs by absolute path; writes and artifacts stay in the worktree.
    readFile: (path) => files.readFile(path),
    readBytes: (path, range) => files.readBytes(path, range),
    writeFile: (path, content) => ws.writeFile(path, content),
    listFiles: () => ws.listFiles(),
    // In the worktree, what its .gitignore rules ignore is left out (as ripgrep does); data dirs are listed whole.
    findFiles: async (path, opts = {}) => {
      const inData = isAbsolute(path) && !isInside(ws.root, path);
      const ignored = inData ? undefined : await ignoredPaths(wt);
      return files.findFiles(path, { ...opts, ...(ignored ? { ignored } : {}) });
    },
    async run(argv, opts = {}) {
      const timeoutSec = Math.min(opts.timeoutSec ?? settings.commandTimeoutSec, settings.maxCommandTimeoutSec);
      log.info({ argv: argv.slice(0, 8), timeoutSec }, "running a command");
      const result = await env.sandbox.run({
        argv,
        policy,
        cwd: ws.root,
        env: mergeEnv(baseEnv, opts.env),
        timeoutMs: timeoutSec * 1000,
        killGraceMs: settings.killGraceMs,
        maxOutputBytes: settings.maxOutputBytes,
        // The step's time limit stops the command as its own timeout would.
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      log.info({ exitCode: result.exitCode, timedOut: result.timedOut }, "command finished");
      return result;
    },
    saveArtifact: (path, opts = {}) => saveArtifact(bus, ws, owner, path, opts.contentType),
    fetchArtifact: (artifact, path) => fetchArtifact(bus, ws, artifact.objectName, path),
    async runGpuJob(spec: GpuJobSpec, opts = {}) {
      const shipped = spec.worktree ? await shipWorktree(bus, wt, work.taskId, { maxBytes: settings.maxShipBytes }) : undefined;
      const jobId = jobIdForSpec(owner, spec, shipped?.worktree);
      const signals = [settings.gpuWait.signal, opts.signal].filter((s): s is AbortSignal => s !== undefined);
      const wait = { ...settings.gpuWait, ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}) };
      try {
        const ran = await runGpuJob(bus, owner, jobId, spec, log.child({ jobId }), wait, shipped?.worktree);
        if (!shipped) return ran;
        return { ...ran, shipped: { files: shipped.files, bytes: shipped.worktree.bytes, leftOut: shipped.leftOut } };
      } catch (err) {
        // The step's own time limit, not a shutdown: the step ends (the job runs on and is reported by the runner).
        if (opts.signal?.aborted && !settings.gpuWait.signal?.aborted) {
          throw new StepToolError(`stopped waiting for GPU job ${jobId}: the step reached its time limit`, { cause: err });
        }
        throw err;
      }
    },
    async progress(message) {
      progressCount += 1;
      await infra("reporting progress", () =>
        bus.emit({
          v: 1,
          type: "step.progress",
          eventId: `step.progress:${work.taskId}:${work.stepId}:${work.attempt}:${progressCount}`,
          taskId: work.taskId,
          stepId: work.stepId,
          role: work.role,
          attempt: work.attempt,
          message: message.slice(0, 1000),
          at: new Date().toISOString(),
        }),
      );
    },
  };
}

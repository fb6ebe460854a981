import { isAbsolute, relative, resolve, sep } from "node:path";
import type { GpuJobSpec, StepTools, TranscriptStore } from "@mllead/brain";
import type { Bus } from "@mllead/bus";
import type { StepWork } from "@mllead/contracts";
import { mergeEnv, pythonEnvVars } from "@mllead/sandbox";
import type { Logger } from "pino";
import { fetchArtifact, saveArtifact } from "./artifacts.js";
import { StepToolError } from "./errors.js";
import { ignoredPaths } from "./ignored-files.js";
import { jobIdForSpec, runGpuJob } from "./job-client.js";
import type { ToolSettings } from "./settings.js";
import type { StepEnvironment } from "./step-env.js";
import type { StepEvents } from "./step-events.js";
import { diffFromBase } from "./task-diff.js";
import type { TaskWorktree } from "./task-worktree.js";
import { Workspace } from "./workspace.js";
import { shipWorktree } from "./worktree-ship.js";

function isInside(root: string, path: string): boolean {
  const rel = relative(root, resolve(path));
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** The largest diff the code reviewer is handed (bytes); the rest it reads file by file. */
const REVIEW_DIFF_BYTES = 200 * 1024;

/** What the tools of one step attempt are made from. */
export interface StepToolDeps {
  bus: Bus;
  /** The task's worktree; the file tools are a view of it (`Workspace.of`). */
  wt: TaskWorktree;
  env: StepEnvironment;
  work: StepWork;
  log: Logger;
  settings: ToolSettings;
  transcript: TranscriptStore;
  /** The attempt's events: progress lines go there. */
  events: StepEvents;
}

/**
 * The `StepTools` one step attempt works with: files in the task's git
 * worktree, commands in the sandbox (the worktree read-write, the team's data
 * dirs read-only, nothing else of the host), artifacts in the Object Store, GPU
 * jobs and progress lines. Job ids come from the job's content and progress
 * ids are counted per attempt, so a re-run after a crash re-attaches instead of
 * duplicating.
 */
export function createStepTools(deps: StepToolDeps): StepTools {
  const { wt, env, log } = deps;
  return {
    log,
    root: wt.root,
    repo: {
      branch: wt.taskBranch,
      baseCommit: wt.baseCommit,
      diff: async () => {
        const d = await diffFromBase(wt, { maxBytes: REVIEW_DIFF_BYTES });
        return { diff: d.diff, truncated: d.truncated, files: d.files.map((f) => ({ status: f.status, path: f.path })) };
      },
    },
    transcript: deps.transcript,
    sandbox: {
      kind: env.sandbox.kind,
      network: env.settings.sandbox.network,
      dataDirs: env.settings.dataDirs,
      ...(env.sandbox.warning ? { warning: env.sandbox.warning } : {}),
      ...(env.python ? { python: env.python } : {}),
    },
    ...fileTools(deps),
    run: commandTool(deps),
    runGpuJob: gpuJobTool(deps),
    progress: (message) => deps.events.progress(message),
  };
}

type FileTools = Pick<
  StepTools,
  "readFile" | "readBytes" | "writeFile" | "listFiles" | "findFiles" | "saveArtifact" | "fetchArtifact"
>;

/** Files of the worktree, read and written through `Workspace` (never through a link out of it), and artifacts. */
function fileTools({ bus, wt, env, work }: StepToolDeps): FileTools {
  const ws = Workspace.of(wt);
  // Read, Glob and Grep may also read the team's data dirs by absolute path; writes and artifacts stay in the worktree.
  const files = ws.withDataDirs(env.settings.dataDirs);
  const owner = { taskId: work.taskId, stepId: work.stepId };
  return {
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
    saveArtifact: (path, opts = {}) => saveArtifact(bus, ws, owner, path, opts.contentType),
    fetchArtifact: (artifact, path) => fetchArtifact(bus, ws, artifact.objectName, path),
  };
}

/** Commands in the sandbox: the worktree read-write, the team's data dirs and Python environment read-only. */
function commandTool({ wt, env, log, settings }: StepToolDeps): StepTools["run"] {
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
  return async (argv, opts = {}) => {
    const timeoutSec = Math.min(opts.timeoutSec ?? settings.commandTimeoutSec, settings.maxCommandTimeoutSec);
    log.info({ argv: argv.slice(0, 8), timeoutSec }, "running a command");
    const result = await env.sandbox.run({
      argv,
      policy,
      cwd: wt.root,
      env: mergeEnv(baseEnv, opts.env),
      timeoutMs: timeoutSec * 1000,
      killGraceMs: settings.killGraceMs,
      maxOutputBytes: settings.maxOutputBytes,
      // The step's time limit stops the command as its own timeout would.
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    log.info({ exitCode: result.exitCode, timedOut: result.timedOut }, "command finished");
    return result;
  };
}

/** GPU jobs: the worktree shipped when asked, the job submitted once (its id from its content) and waited for. */
function gpuJobTool({ bus, wt, work, log, settings }: StepToolDeps): StepTools["runGpuJob"] {
  const owner = { taskId: work.taskId, stepId: work.stepId, attempt: work.attempt };
  return async (spec: GpuJobSpec, opts = {}) => {
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
  };
}

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  createSandbox,
  describePythonEnv,
  hasCode,
  MISSING,
  openPythonEnv,
  type ProcessRunner,
  type PythonEnv,
  type PythonEnvDescription,
  type Sandbox,
  type SandboxPolicy,
  summarizeSandboxEnv,
} from "@mllead/sandbox";
import type { Logger } from "pino";
import type { RunnerConfig } from "./config.js";

/** The device nodes every CUDA process opens besides its GPUs' own (nvidia-caps: MIG instances). */
export const NVIDIA_CONTROL_DEVICES = ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-caps"] as const;

/** What the runner's config says about every job's sandbox. */
export interface JobSandboxSettings {
  /** Read-only directories every job sees (MLLEAD_DATA_DIRS). */
  dataDirs: readonly string[];
  /** Whether jobs may use the network (MLLEAD_SANDBOX_NETWORK). */
  network: boolean;
  /** Processes and threads a job may have at once (MLLEAD_JOB_MAX_PROCESSES). */
  maxProcesses: number;
  /** MLLEAD_PYTHON_ENV, checked at start: mounted read-only in every job, its bin first on PATH. */
  python?: PythonEnv;
}

/**
 * GPU UUID → device minor number (the N of /dev/nvidiaN), from the driver's
 * /proc/driver/nvidia/gpus/<pci>/information. The minor is not always nvidia-smi's
 * index, so the driver's word wins; empty where the driver is not loaded. A GPU whose entry is gone
 * is skipped; any other failure to read the driver's files is thrown.
 */
export function readDeviceMinors(procDir = "/proc/driver/nvidia/gpus"): Map<string, number> {
  const out = new Map<string, number>();
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch (err) {
    if (hasCode(err, MISSING)) return out;
    throw err;
  }
  for (const pci of entries) {
    let info: string;
    try {
      info = readFileSync(join(procDir, pci, "information"), "utf8");
    } catch (err) {
      if (hasCode(err, MISSING)) continue;
      throw err;
    }
    const uuid = /^GPU UUID:\s*(\S+)/m.exec(info)?.[1];
    const minor = Number(/^Device Minor:\s*(\d+)/m.exec(info)?.[1]);
    if (uuid && Number.isInteger(minor)) out.set(uuid, minor);
  }
  return out;
}

/**
 * The device nodes a job with these GPUs needs: /dev/nvidia<N> for each of its GPUs
 * (N from the driver, else nvidia-smi's index) and the control nodes; none for a CPU
 * job. Only nodes that exist are returned, so a host without the driver gets none.
 */
export function gpuDeviceNodes(
  uuids: readonly string[],
  indexOf: ReadonlyMap<string, number>,
  minors: ReadonlyMap<string, number>,
  exists: (p: string) => boolean = existsSync,
): string[] {
  if (uuids.length === 0) return [];
  const own = uuids.flatMap((u) => {
    const n = minors.get(u) ?? indexOf.get(u);
    return n === undefined ? [] : [`/dev/nvidia${n}`];
  });
  return [...own, ...NVIDIA_CONTROL_DEVICES].filter((p) => exists(p));
}

/**
 * The sandbox policy of one job: its `work` directory (cwd) and `artifacts` read-write
 * — not the job directory itself, which holds the runner's log and pid file — the
 * team's data dirs read-only, its GPUs' device nodes, and the network only when the
 * runner allows it. A job with GPUs also sees /sys read-only, where the CUDA runtime
 * and NCCL read the PCI and NUMA topology. Memory and file size are not limited: GPU
 * jobs legitimately hold most of the host's memory and write large checkpoints.
 */
export function jobPolicy(
  settings: JobSandboxSettings,
  dirs: { work: string; artifacts: string },
  devices: readonly string[],
): SandboxPolicy {
  return {
    workdir: dirs.work,
    readWrite: [dirs.artifacts],
    readOnly: [...settings.dataDirs, ...(devices.length > 0 ? ["/sys"] : []), ...(settings.python?.mounts ?? [])],
    devices: [...devices],
    network: settings.network,
    limits: { processes: settings.maxProcesses },
  };
}

/**
 * The runner's sandbox (`deps.sandbox`, else detected as MLLEAD_SANDBOX and
 * MLLEAD_BWRAP say) and its job settings, logged once at start: the kind and how
 * limits are enforced, or the warning when jobs are not isolated, and the names of
 * the host variables jobs get (never their values). With MLLEAD_SANDBOX=bubblewrap
 * and no working bwrap it throws `SandboxUnavailableError`, so the runner refuses to start;
 * a MLLEAD_PYTHON_ENV that cannot run in the sandbox throws `PythonEnvError`, naming it.
 * `python` describes what jobs run as Python, for the heartbeat (null when unknown).
 */
export async function openJobSandbox(
  config: RunnerConfig,
  deps: {
    sandbox?: Sandbox | undefined;
    runProcess?: ProcessRunner | undefined;
    hostEnv: Readonly<Record<string, string | undefined>>;
  },
  log: Logger,
): Promise<{ sandbox: Sandbox; settings: JobSandboxSettings; python: PythonEnvDescription | null }> {
  const sandbox =
    deps.sandbox ??
    (await createSandbox({
      mode: config.MLLEAD_SANDBOX,
      env: deps.hostEnv,
      ...(config.MLLEAD_BWRAP ? { bwrap: config.MLLEAD_BWRAP } : {}),
    }));
  const opened = config.MLLEAD_PYTHON_ENV
    ? await openPythonEnv(config.MLLEAD_PYTHON_ENV, sandbox, {
        baseEnv: deps.hostEnv,
        // Jobs write in the jobs directory: an environment there could be changed by one job for the next.
        guard: { home: deps.hostEnv.HOME, protect: [resolve(config.MLLEAD_JOBS_DIR)] },
      })
    : undefined;
  const settings = {
    dataDirs: config.MLLEAD_DATA_DIRS,
    network: config.MLLEAD_SANDBOX_NETWORK,
    maxProcesses: config.MLLEAD_JOB_MAX_PROCESSES,
    ...(opened ? { python: opened.env } : {}),
  };
  if (opened)
    log.info(
      {
        pythonEnv: opened.env.dir,
        kind: opened.env.kind,
        version: opened.sysVersion,
        mounts: opened.env.mounts,
        packages: opened.description.packages.map((p) => `${p.name} ${p.version}`),
      },
      "jobs run the team's Python environment (MLLEAD_PYTHON_ENV), read-only and first on PATH",
    );
  const python = opened?.description ?? (sandbox.kind === "bubblewrap" && !deps.runProcess ? await describePythonEnv() : null);
  const env = summarizeSandboxEnv(deps.hostEnv, config.MLLEAD_SANDBOX_ENV);
  log.info({ names: env.names }, "jobs get these host variables (PATH, HOME, TMPDIR, LANG, LC_* and MLLEAD_SANDBOX_ENV)");
  if (env.secretLooking.length > 0)
    log.warn({ names: env.secretLooking }, "MLLEAD_SANDBOX_ENV hands jobs variables whose names look like credentials");
  if (env.unset.length > 0) log.warn({ names: env.unset }, "MLLEAD_SANDBOX_ENV lists variables this runner does not have");
  if (deps.runProcess) log.warn("jobs run through an injected process runner, outside the sandbox");
  else if (sandbox.warning) log.warn({ sandbox: sandbox.kind, limits: sandbox.enforcement }, sandbox.warning);
  else
    log.info(
      {
        sandbox: sandbox.kind,
        limits: sandbox.enforcement,
        dataDirs: settings.dataDirs,
        network: settings.network,
        maxProcesses: settings.maxProcesses,
      },
      "jobs run in a bubblewrap sandbox",
    );
  return { sandbox, settings, python };
}

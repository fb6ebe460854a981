import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { GpuJob } from "@mllead/contracts";
import { bubblewrapCommand } from "@mllead/sandbox";
import type { JobDirs } from "./job-executor.js";
import { type JobSandboxSettings, jobPolicy } from "./job-sandbox.js";

/** The files a Slurm job's directory holds besides `work` and `artifacts`. */
export const SLURM_FILES = {
  /** The batch script sbatch is given. */
  script: "job.sbatch",
  /** Where Slurm writes the job's stdout and stderr (`--output`); the runner tails it. */
  output: "slurm.out",
  /** The job's environment (`K='v'` lines), read by the batch script at run time (process sandbox). */
  env: "job.env",
  /** bwrap's hidden options (the job's environment), NUL-separated (bubblewrap sandbox). */
  bwrapArgs: "bwrap.args",
} as const;

/** How a batch script isolates the job: as the runner's own sandbox does, on the compute node. */
export interface ScriptSandbox {
  kind: "bubblewrap" | "process";
  settings: JobSandboxSettings;
  /** The bwrap binary on the compute nodes (MLLEAD_BWRAP). Default `bwrap` on the node's PATH, then /usr/bin/bwrap. */
  bwrap?: string | undefined;
}

/** `s` as one word for bash, never expanded. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

const HEADER = (jobId: string) => [
  "#!/bin/bash",
  `# mllead GPU job ${jobId}, written by the gpu-runner: the job's command with exactly the job's environment`,
  "# (the runner's job variables and the CUDA_VISIBLE_DEVICES Slurm sets), nothing of Slurm's or the submitter's.",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a JavaScript template.
  'cvd="${CUDA_VISIBLE_DEVICES-}"',
];

/** The body for a process sandbox: clear the environment, load job.env, exec the command in `work`. */
function processBody(dirs: JobDirs, argv: readonly string[]): string[] {
  return [
    // Names only (no values) pass through the loop; readonly shell variables stay, as in any bash.
    'for name in $(compgen -e); do unset "$name" 2>/dev/null; done',
    `set -a; . ${shellQuote(join(dirs.root, SLURM_FILES.env))}; set +a`,
    'export CUDA_VISIBLE_DEVICES="$cvd"',
    `cd ${shellQuote(dirs.work)} || exit 1`,
    `exec /bin/sh -c 'exec "$@"' sh ${argv.map(shellQuote).join(" ")}`,
  ];
}

/** The body for bubblewrap: the sandbox's own bwrap invocation, the environment read from a private file. */
function bubblewrapBody(
  dirs: JobDirs,
  job: GpuJob,
  options: string[],
  command: string[],
  fd: number,
  bwrap: string | undefined,
): string[] {
  const find = bwrap ? shellQuote(bwrap) : '"$(command -v bwrap || echo /usr/bin/bwrap)"';
  return [
    `bwrap=${find}`,
    'if [ ! -x "$bwrap" ]; then echo "[mllead] bubblewrap ($bwrap) is not installed on node $(hostname); the job cannot run sandboxed" >&2; exit 126; fi',
    "devs=()",
    // The node's GPUs: Slurm's CUDA_VISIBLE_DEVICES (and its device cgroup, where configured) choose among them.
    ...(job.gpus > 0 ? ['for d in /dev/nvidia*; do [ -e "$d" ] && devs+=(--dev-bind "$d" "$d"); done'] : []),
    `exec ${fd}<${shellQuote(join(dirs.root, SLURM_FILES.bwrapArgs))}`,
    `exec /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin MLLEAD_JOB_ID=${shellQuote(job.jobId)} "$bwrap" \\`,
    `  ${options.map(shellQuote).join(" ")} \\`,
    `  --setenv CUDA_VISIBLE_DEVICES "$cvd" "\${devs[@]}" -- ${command.map(shellQuote).join(" ")}`,
  ];
}

/**
 * Writes the job's batch script and its environment file into the job directory (both 0600: the environment can
 * hold what MLLEAD_SANDBOX_ENV passes, and never goes into Slurm's copy of the script). Under bubblewrap the
 * script runs the same bwrap command the local sandbox would (policy from `jobPolicy`); GPU jobs also see /sys
 * read-only and the node's /dev/nvidia* devices. Returns the script's path.
 */
export async function writeBatchScript(
  job: GpuJob,
  dirs: JobDirs,
  env: Readonly<Record<string, string>>,
  sandbox: ScriptSandbox,
): Promise<string> {
  const script = join(dirs.root, SLURM_FILES.script);
  let body: string[];
  if (sandbox.kind === "bubblewrap") {
    const policy = jobPolicy(sandbox.settings, { work: dirs.work, artifacts: dirs.artifacts }, []);
    if (job.gpus > 0) policy.readOnly = [...(policy.readOnly ?? []), "/sys"];
    const cmd = await bubblewrapCommand(policy, dirs.work, env, job.command);
    await writeFile(join(dirs.root, SLURM_FILES.bwrapArgs), cmd.hidden, { mode: 0o600 });
    body = bubblewrapBody(dirs, job, cmd.options, cmd.command, cmd.fd, sandbox.bwrap);
  } else {
    const lines = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}\n`);
    await writeFile(join(dirs.root, SLURM_FILES.env), lines.join(""), { mode: 0o600 });
    body = processBody(dirs, job.command);
  }
  await writeFile(script, `${[...HEADER(job.jobId), ...body].join("\n")}\n`, { mode: 0o700 });
  return script;
}

/** Slurm's limit in whole minutes (its granularity), at least the job's own; the runner enforces the exact one. */
export function slurmMinutes(timeoutSec: number): number {
  return Math.max(1, Math.ceil(timeoutSec / 60));
}

/** The sbatch options for a job: name, output file, GPUs as GRES, time limit, no environment, no requeue. */
export function sbatchArgs(
  job: GpuJob,
  dirs: JobDirs,
  opts: { partition?: string | undefined; extra: readonly string[] },
): string[] {
  return [
    `--job-name=mllead-${job.jobId}`,
    `--output=${join(dirs.root, SLURM_FILES.output)}`,
    `--chdir=${dirs.root}`,
    "--export=NONE",
    "--nodes=1",
    "--ntasks=1",
    // A requeued job would run its command twice behind the runner's back: a node failure ends it instead.
    "--no-requeue",
    `--time=${slurmMinutes(job.timeoutSec)}`,
    ...(job.gpus > 0 ? [`--gres=gpu:${job.gpus}`] : []),
    ...(opts.partition ? [`--partition=${opts.partition}`] : []),
    ...opts.extra,
  ];
}

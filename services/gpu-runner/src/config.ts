import { hostname } from "node:os";
import { ENV_NAME } from "@mllead/sandbox";
import { envFlag as bool, envList as list } from "@mllead/service-kit";
import { z } from "zod";

/**
 * The runner's own variables (merged with the service kit's BaseConfig).
 *
 * - `RUNNER_ID`: stable across restarts, so a restarted runner recognises its own interrupted claims. Default: the hostname.
 * - `MLLEAD_JOBS_DIR`: where job directories are made. Default `.mllead/jobs` (relative to the working directory).
 * - `MLLEAD_NVIDIA_SMI`: the nvidia-smi binary. Default `nvidia-smi` on PATH; missing or failing means a CPU-only host.
 * - `MLLEAD_CPU_SLOTS`: jobs run at once without a GPU (on a CPU-only host, or `gpus: 0` jobs anywhere). Default 1.
 * - `MLLEAD_KILL_GRACE_MS`: SIGTERM → SIGKILL grace when a job's process group is stopped. Default 5000.
 * - `MLLEAD_HEARTBEAT_SEC`: heartbeat and claim-lease interval. Default 10; a claim is stale after 3 intervals.
 * - `MLLEAD_PROGRESS_INTERVAL_MS`: at most one `job.progress` event per job per interval. Default 1000.
 * - `MLLEAD_LOG_MAX_BYTES`: cap on the job's log file (and the `job.log` artifact). Default 5 MiB.
 * - `MLLEAD_ARTIFACT_MAX_BYTES`: larger artifact files are skipped (with a log line). Default 512 MiB.
 * - `MLLEAD_KEEP_JOB_DIRS`: keep job directories after a job ends (debugging). Default false.
 * - `MLLEAD_SANDBOX_ENV`: host variable names (comma-separated) jobs get besides PATH, HOME, TMPDIR, LANG, LANGUAGE and
 *   LC_* — e.g. `LD_LIBRARY_PATH,CUDA_HOME,HF_HOME`. Nothing else of the runner's environment reaches a job; a listed
 *   name passes even when it looks like a credential (the runner logs the names, never values, at start).
 *   The specialist-agent reads the same variable for its commands.
 * - `MLLEAD_JOB_ENV_PASS`: replaced by MLLEAD_SANDBOX_ENV; setting it is an error, so a list is never silently dropped.
 * - `MLLEAD_SANDBOX`: how jobs are isolated. `auto` (default; the Docker image sets `bubblewrap`): bubblewrap when it
 *   works here, else a process group only, with a warning at start; `bubblewrap`: refuse to start without it, saying
 *   why; `process`: never bubblewrap.
 * - `MLLEAD_BWRAP`: the bwrap binary. Default `bwrap` on PATH, then /usr/bin/bwrap.
 * - `MLLEAD_DATA_DIRS`: absolute paths (comma-separated) every job sees read-only under bubblewrap: the team's
 *   data, and toolchains outside /usr that jobs run (a conda env, a pyenv root). Default none.
 * - `MLLEAD_PYTHON_ENV`: this host's copy of the team's Python environment (a venv, conda or uv environment
 *   directory, absolute): mounted read-only in every job, its `bin` first on PATH, VIRTUAL_ENV or CONDA_PREFIX set.
 *   Checked at start by running its python once in the sandbox; the runner refuses to start when it is wrong.
 *   Default none: jobs run the system python3.
 * - `MLLEAD_SANDBOX_NETWORK`: let jobs use the network (`1`/`true`). Default false: a loopback of their own only.
 * - `MLLEAD_JOB_MAX_PROCESSES`: processes and threads a job may have at once (a cgroup where one can be made).
 *   Default 4096.
 * - `MLLEAD_RUNNER_BACKEND`: where jobs run. `local` (default): this host's GPUs, as sandboxed processes; `slurm`:
 *   each job is a Slurm batch job (the runner sits on a login node; MLLEAD_JOBS_DIR must be on a filesystem the
 *   compute nodes share, at the same path). See backends/slurm.ts.
 * - `MLLEAD_SLURM_POLL_MS`: how often a Slurm job's state and output file are read. Default 1000.
 * - `MLLEAD_SLURM_MAX_JOBS`: Slurm jobs one runner submits and follows at once (the rest wait in NATS). Default 32.
 * - `MLLEAD_SLURM_PARTITION`: sbatch `--partition`. Default the cluster's default partition.
 * - `MLLEAD_SLURM_ARGS`: more sbatch options for every job, comma-separated (e.g. `--account=ml,--qos=normal`).
 * - `MLLEAD_SLURM_BIN_DIR`: the directory of sbatch, squeue, scontrol, scancel and sacct. Default: PATH.
 * - `SLURM_CONF`: the cluster's slurm.conf, handed to the Slurm commands. Default theirs (/etc/slurm/slurm.conf).
 */
export const RunnerConfig = z.object({
  RUNNER_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, "use letters, digits, '.', '_' or '-'")
    .max(100)
    .default(() => hostname().replace(/[^A-Za-z0-9_.-]/g, "-") || "runner"),
  MLLEAD_JOBS_DIR: z.string().default(".mllead/jobs"),
  MLLEAD_NVIDIA_SMI: z.string().default("nvidia-smi"),
  MLLEAD_CPU_SLOTS: z.coerce.number().int().min(1).max(256).default(1),
  MLLEAD_KILL_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(5000),
  MLLEAD_HEARTBEAT_SEC: z.coerce.number().positive().max(3600).default(10),
  MLLEAD_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(0).max(600_000).default(1000),
  MLLEAD_LOG_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(5 * 1024 * 1024),
  MLLEAD_ARTIFACT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(512 * 1024 * 1024),
  MLLEAD_KEEP_JOB_DIRS: bool,
  MLLEAD_SANDBOX_ENV: list.pipe(z.array(z.string().regex(ENV_NAME, "use variable names (letters, digits, '_')"))),
  MLLEAD_JOB_ENV_PASS: z.undefined({ error: "renamed: list the names in MLLEAD_SANDBOX_ENV instead" }).optional(),
  MLLEAD_SANDBOX: z.enum(["auto", "bubblewrap", "process"]).default("auto"),
  MLLEAD_BWRAP: z.string().min(1).optional(),
  MLLEAD_DATA_DIRS: list.pipe(z.array(z.string().startsWith("/", "use absolute paths"))),
  MLLEAD_SANDBOX_NETWORK: bool,
  MLLEAD_PYTHON_ENV: z
    .string()
    .refine((s) => s === "" || s.startsWith("/"), "use an absolute path to a venv, conda or uv environment")
    .optional(),
  MLLEAD_JOB_MAX_PROCESSES: z.coerce.number().int().min(16).max(4_194_304).default(4096),
  MLLEAD_RUNNER_BACKEND: z.enum(["local", "slurm"]).default("local"),
  MLLEAD_SLURM_POLL_MS: z.coerce.number().int().min(50).max(600_000).default(1000),
  MLLEAD_SLURM_MAX_JOBS: z.coerce.number().int().min(1).max(10_000).default(32),
  MLLEAD_SLURM_PARTITION: z
    .string()
    .regex(/^[A-Za-z0-9_.,-]*$/, "use a partition name")
    .optional(),
  MLLEAD_SLURM_ARGS: list.pipe(z.array(z.string().startsWith("--", "use sbatch long options, e.g. --account=ml"))),
  MLLEAD_SLURM_BIN_DIR: z.string().startsWith("/", "use an absolute directory").optional(),
  SLURM_CONF: z.string().startsWith("/", "use an absolute path to slurm.conf").optional(),
});
export type RunnerConfig = z.output<typeof RunnerConfig>;

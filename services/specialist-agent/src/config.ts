import { resolve } from "node:path";
import { BrainConfig, DEFAULT_JOBS_DIR } from "@mllead/brain";
import { ARTIFACT_RETENTION_DAYS, ROLES, Role } from "@mllead/contracts";
import { ENV_NAME, sandboxEnv } from "@mllead/sandbox";
import { envFlag, envList } from "@mllead/service-kit";
import { z } from "zod";
import { defaultStateDir, defaultWorkspaceDir } from "./git-repo.js";
import type { ResolvedRepoSettings, SandboxSettings, SpecialistSettings, ToolSettings } from "./settings.js";
import { DEFAULT_MAX_SHIP_BYTES } from "./worktree-ship.js";

/** The specialist-agent's own variables (merged with BaseConfig by runService). */
export const SpecialistEnv = BrainConfig.extend({
  /** Comma list of the roles this process serves; default all four. */
  MLLEAD_ROLES: z
    .string()
    .default(ROLES.join(","))
    .transform((s) =>
      s
        .split(",")
        .map((r) => r.trim())
        .filter(Boolean),
    )
    .pipe(z.array(Role).min(1)),
  /** Root of the per-task git worktrees; default `<state dir>/workspaces` (outside the checkout). */
  MLLEAD_WORKSPACE_DIR: z.string().optional(),
  /** mllead's state directory (clones, the demo repository, worktrees); default $XDG_STATE_HOME/mllead or ~/.local/state/mllead. */
  MLLEAD_STATE_DIR: z.string().optional(),
  /** The team's git repository: a path (used as it is) or a clone URL. Unset: a demo repository made from the shipped jobs/. */
  MLLEAD_REPO: z.string().optional(),
  /** Where a task's branch is pushed once the code reviewer approves (a URL, a path or a remote name); unset: not pushed. */
  MLLEAD_PUSH_REMOTE: z.string().optional(),
  /**
   * `1`: the offline brain commits (and pushes) on a team's repository (MLLEAD_REPO) too. Default: its work — the
   * shipped demo pipeline on synthetic data — stays uncommitted in the task's worktree. The demo repository always commits.
   */
  MLLEAD_OFFLINE_COMMIT: envFlag,
  /** The team's data folders, comma-separated: read-only to every step's commands. */
  MLLEAD_DATA_DIRS: envList,
  /** `1`: sandboxed commands may use the network. */
  MLLEAD_SANDBOX_NETWORK: envFlag,
  /**
   * The team's Python environment (a venv, conda or uv environment directory, absolute): mounted read-only in every
   * sandboxed command, its `bin` first on PATH. Checked at start (the service refuses to start when it is wrong).
   * Empty: the system python3. The gpu-runner reads the same variable for jobs.
   */
  MLLEAD_PYTHON_ENV: z
    .string()
    .refine((s) => s === "" || s.startsWith("/"), "use an absolute path to a venv, conda or uv environment")
    .optional(),
  /**
   * `auto` (bubblewrap where it runs, else a process sandbox with a warning), `bubblewrap` (required: the service
   * refuses to start without it, saying why; the Docker image's default), `process`.
   */
  MLLEAD_SANDBOX: z.enum(["auto", "bubblewrap", "process"]).default("auto"),
  /** The bwrap binary. Default `bwrap` on PATH, then /usr/bin/bwrap. */
  MLLEAD_BWRAP: z.string().min(1).optional(),
  /**
   * Host variable names (comma-separated) sandboxed commands get besides PATH, HOME, TMPDIR, LANG, LANGUAGE and
   * LC_*; nothing else of the service's environment reaches them. A listed name passes even when it looks like a
   * credential (the names, never values, are logged at start). The gpu-runner reads the same variable for jobs.
   */
  MLLEAD_SANDBOX_ENV: envList.pipe(z.array(z.string().regex(ENV_NAME, "use variable names (letters, digits, '_')"))),
  /** Memory of one sandboxed command (MiB). */
  MLLEAD_SANDBOX_MEMORY_MB: z.coerce.number().int().min(64).default(8192),
  /** Processes and threads of one sandboxed command at once. */
  MLLEAD_SANDBOX_PROCESSES: z.coerce.number().int().min(8).default(512),
  /** Largest file one sandboxed command may write (MiB). */
  MLLEAD_SANDBOX_FILE_SIZE_MB: z.coerce.number().int().min(1).default(4096),
  /** Steps each role's consumer runs at once in this process. */
  MLLEAD_STEP_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** Default timeout of a specialist's command (s). */
  MLLEAD_COMMAND_TIMEOUT_SEC: z.coerce.number().int().positive().default(300),
  /** The largest worktree a GPU job ships (MB of the uncompressed archive); at most 2048, the runners' own limit. */
  MLLEAD_JOB_MAX_SHIP_MB: z.coerce.number().int().min(1).max(2048).default(200),
  /**
   * The most a task's uncommitted files (ignored data, models, features) may hold together (MB) to travel from
   * step to step (any replica); more is left behind and the step's result says so. 0: none travel.
   */
  MLLEAD_TASK_FILES_MAX_MB: z.coerce.number().int().min(0).default(1024),
  /** The largest one such file may be (MB). */
  MLLEAD_TASK_FILES_MAX_FILE_MB: z.coerce.number().int().min(0).default(512),
  /**
   * Days a task's objects are kept in `mllead_artifacts` (artifacts, branch bundles, carried files) and its branch
   * record in `mllead_task_branches`, counted from when each was stored; applied to the existing store at start.
   */
  MLLEAD_ARTIFACT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(ARTIFACT_RETENTION_DAYS),
});
export type SpecialistEnv = z.output<typeof SpecialistEnv>;

/** Sandbox limits when none are configured: 8 GiB, 512 processes, 4 GiB files. */
export const DEFAULT_SANDBOX = {
  mode: "auto",
  network: false,
  limits: { memoryBytes: 8192 * 1024 * 1024, processes: 512, fileSizeBytes: 4096 * 1024 * 1024 },
} as const satisfies SandboxSettings;

/** Repo settings with their defaults filled in (the state dir has none here: see `settingsFromEnv`). */
export function resolveRepoSettings(s: SpecialistSettings): ResolvedRepoSettings {
  return {
    ...s,
    demoSourceDir: s.demoSourceDir ?? DEFAULT_JOBS_DIR,
    dataDirs: s.dataDirs ?? [],
    sandbox: s.sandbox ?? { ...DEFAULT_SANDBOX, limits: { ...DEFAULT_SANDBOX.limits } },
  };
}

/** Default tool limits; tests override the few they exercise. `baseEnv` is every command's environment as it is (see `sandboxEnv`). */
export function defaultToolSettings(baseEnv: Readonly<Record<string, string | undefined>>): ToolSettings {
  return {
    baseEnv,
    commandTimeoutSec: 300,
    maxCommandTimeoutSec: 6 * 3600,
    killGraceMs: 5000,
    maxOutputBytes: 64 * 1024,
    gpuWait: { marginSec: 600, pollMs: 5000 },
    maxShipBytes: DEFAULT_MAX_SHIP_BYTES,
  };
}

/**
 * Settings from the parsed environment. `hostEnv` is the service's whole environment
 * (main passes process.env): it gives the default state dir, and of it sandboxed commands
 * get only what `sandboxEnv` allows (PATH, HOME, TMPDIR, LANG, LC_*, MLLEAD_SANDBOX_ENV).
 * The one rule for the directories: the state dir is MLLEAD_STATE_DIR, else `$XDG_STATE_HOME/mllead`
 * (`~/.local/state/mllead`); the workspace dir is MLLEAD_WORKSPACE_DIR, else `<stateDir>/workspaces`.
 */
export function settingsFromEnv(
  config: SpecialistEnv,
  hostEnv: Readonly<Record<string, string | undefined>>,
): SpecialistSettings {
  // Empty counts as unset: `.env.example` lists every variable with an empty value.
  const stateDir = config.MLLEAD_STATE_DIR || defaultStateDir(hostEnv);
  return {
    roles: config.MLLEAD_ROLES,
    workspaceDir: config.MLLEAD_WORKSPACE_DIR || defaultWorkspaceDir(stateDir),
    stateDir,
    ...(config.MLLEAD_REPO ? { repo: config.MLLEAD_REPO } : {}),
    ...(config.MLLEAD_PUSH_REMOTE ? { pushRemote: config.MLLEAD_PUSH_REMOTE } : {}),
    dataDirs: config.MLLEAD_DATA_DIRS.map((d) => resolve(d)),
    sandbox: {
      mode: config.MLLEAD_SANDBOX,
      network: config.MLLEAD_SANDBOX_NETWORK,
      limits: {
        memoryBytes: config.MLLEAD_SANDBOX_MEMORY_MB * 1024 * 1024,
        processes: config.MLLEAD_SANDBOX_PROCESSES,
        fileSizeBytes: config.MLLEAD_SANDBOX_FILE_SIZE_MB * 1024 * 1024,
      },
      ...(config.MLLEAD_BWRAP ? { bwrap: config.MLLEAD_BWRAP } : {}),
      passEnv: config.MLLEAD_SANDBOX_ENV,
      ...(config.MLLEAD_PYTHON_ENV ? { pythonEnv: config.MLLEAD_PYTHON_ENV } : {}),
    },
    concurrency: config.MLLEAD_STEP_CONCURRENCY,
    offlineCommit: config.MLLEAD_OFFLINE_COMMIT,
    taskFiles: {
      maxBytes: config.MLLEAD_TASK_FILES_MAX_MB * 1024 * 1024,
      maxFileBytes: config.MLLEAD_TASK_FILES_MAX_FILE_MB * 1024 * 1024,
    },
    tools: {
      ...defaultToolSettings(sandboxEnv(hostEnv, config.MLLEAD_SANDBOX_ENV)),
      commandTimeoutSec: config.MLLEAD_COMMAND_TIMEOUT_SEC,
      maxShipBytes: config.MLLEAD_JOB_MAX_SHIP_MB * 1024 * 1024,
    },
  };
}

/**
 * The specialist's settings as plain types: a leaf module (it imports types only), so config, the step
 * environment and the tools share them without importing each other. `config.ts` fills them from the
 * environment; tests build them directly.
 */
import type { Role } from "@mllead/contracts";
import type { JobWaitOptions } from "./job-client.js";

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

/** How commands are sandboxed (MLLEAD_SANDBOX and its companions). */
export interface SandboxSettings {
  mode: "auto" | "bubblewrap" | "process";
  network: boolean;
  limits: { memoryBytes: number; processes: number; fileSizeBytes: number };
  /** MLLEAD_BWRAP: the bwrap binary; unset = `bwrap` on PATH, then /usr/bin/bwrap. */
  bwrap?: string;
  /** MLLEAD_SANDBOX_ENV: the extra host variable names commands get (already applied to `tools.baseEnv`). */
  passEnv?: readonly string[];
  /** MLLEAD_PYTHON_ENV: the team's Python environment, mounted read-only and first on PATH; unset = the system python3. */
  pythonEnv?: string;
}

/** How the task's worktree and the sandbox are set up; the optional fields have defaults (see `resolveRepoSettings`). */
export interface RepoSettings {
  /** MLLEAD_REPO: a path or clone URL; unset = the demo repository. */
  repo?: string;
  /**
   * mllead's state directory: clones (`repos/`) and the demo repository live here. `settingsFromEnv` is the
   * one place it gets its default (`$XDG_STATE_HOME/mllead`), and the workspace dir's (`<stateDir>/workspaces`).
   */
  stateDir: string;
  /** The shipped scripts the demo repository is made from; default the checkout's `jobs/`. */
  demoSourceDir?: string;
  /** MLLEAD_PUSH_REMOTE */
  pushRemote?: string;
  /** MLLEAD_DATA_DIRS, absolute paths. */
  dataDirs?: string[];
  /** Default: `auto`, no network, 8 GiB, 512 processes, 4 GiB files (`DEFAULT_SANDBOX`). */
  sandbox?: SandboxSettings;
}

/** Repo settings with every default filled in (what `resolveRepoSettings` returns). */
export type ResolvedRepoSettings = Required<Omit<RepoSettings, "repo" | "pushRemote">> &
  Pick<RepoSettings, "repo" | "pushRemote">;

/** How much of a step's uncommitted files (ignored data, models) travel to the task's next steps (`task-files.ts`). */
export interface TaskFilesLimits {
  /** MLLEAD_TASK_FILES_MAX_MB: all of a task's carried files together (bytes); default 1 GiB. */
  maxBytes: number;
  /** MLLEAD_TASK_FILES_MAX_FILE_MB: one file (bytes); default 512 MiB. */
  maxFileBytes: number;
}

/** What the app needs to know, independent of where it came from. */
export interface SpecialistSettings extends RepoSettings {
  roles: Role[];
  /** Task worktrees are `<workspaceDir>/<taskId>`, transcripts `<workspaceDir>/.transcripts/`. */
  workspaceDir: string;
  /** Steps per role consumer at once. */
  concurrency: number;
  tools: ToolSettings;
  /** MLLEAD_OFFLINE_COMMIT: commit the offline brain's work on a team's repository too (see `commitsStep`); default false. */
  offlineCommit?: boolean;
  /** Default `DEFAULT_TASK_FILES` (1 GiB in all, 512 MiB a file). */
  taskFiles?: TaskFilesLimits;
}

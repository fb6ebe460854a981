import {
  createSandbox,
  describePythonEnv,
  type OpenedPythonEnv,
  openPythonEnv,
  type PythonEnvDescription,
  type Sandbox,
  summarizeSandboxEnv,
} from "@mllead/sandbox";
import type { Logger } from "pino";
import { resolveRepoSettings } from "./config.js";
import { openSourceRepo, type SourceRepo } from "./git-repo.js";
import type { ResolvedRepoSettings, SpecialistSettings } from "./settings.js";

/** What every step of this process shares: the team's repository and the sandbox its commands run in. */
export interface StepEnvironment {
  source: SourceRepo;
  sandbox: Sandbox;
  settings: ResolvedRepoSettings;
  /** MLLEAD_PYTHON_ENV, checked under the sandbox at start: mounted read-only in every command, first on PATH. */
  pythonEnv?: OpenedPythonEnv;
  /** The Python commands run, for prompts and the scout: the team's environment, else the system python3; null when unknown. */
  python: PythonEnvDescription | null;
}

/**
 * Opens the team's repository (cloning or fetching a URL, or making the demo
 * repository) and detects the sandbox once per process; main calls it before the
 * service takes work, so with MLLEAD_SANDBOX=bubblewrap and no working bwrap the
 * service refuses to start (`SandboxUnavailableError` names the cause and the fix).
 * A weaker sandbox is logged here and shown in each step's thread message; the names
 * (never values) of the variables commands get are logged too.
 */
export async function openStepEnvironment(settings: SpecialistSettings, log: Logger): Promise<StepEnvironment> {
  const resolved = resolveRepoSettings(settings);
  const { bwrap } = resolved.sandbox;
  const [source, sandbox] = await Promise.all([
    openSourceRepo({ repo: resolved.repo, stateDir: resolved.stateDir, demoSourceDir: resolved.demoSourceDir }),
    createSandbox({ mode: resolved.sandbox.mode, ...(bwrap ? { bwrap } : {}) }),
  ]);
  for (const w of source.warnings) log.warn({ repo: source.label }, w);
  log.info({ repo: source.label, kind: source.kind, workspaceDir: settings.workspaceDir }, "team repository ready");
  if (sandbox.warning) log.warn({ sandbox: sandbox.kind }, sandbox.warning);
  else log.info({ sandbox: sandbox.kind, limits: sandbox.enforcement }, "commands run under bubblewrap");
  const env = summarizeSandboxEnv(settings.tools.baseEnv, resolved.sandbox.passEnv ?? []);
  log.info({ names: env.names }, "commands get these variables (PATH, HOME, TMPDIR, LANG, LC_* and MLLEAD_SANDBOX_ENV)");
  if (env.secretLooking.length > 0)
    log.warn({ names: env.secretLooking }, "MLLEAD_SANDBOX_ENV hands commands variables whose names look like credentials");
  if (env.unset.length > 0) log.warn({ names: env.unset }, "MLLEAD_SANDBOX_ENV lists variables this service does not have");
  const pythonEnv = await openTeamPython(settings, resolved, sandbox, log);
  // Without a team environment, commands find the system python3 (what a process sandbox finds depends on PATH).
  const python = pythonEnv?.description ?? (sandbox.kind === "bubblewrap" ? await describePythonEnv() : null);
  return { source, sandbox, settings: resolved, ...(pythonEnv ? { pythonEnv } : {}), python };
}

/**
 * MLLEAD_PYTHON_ENV opened and run once under the real sandbox (`openPythonEnv`), or undefined when unset.
 * It may not be the service's HOME or above it, nor overlap the state or workspace dirs (steps write there);
 * a wrong one throws `PythonEnvError`, naming the variable, so the service stops at start.
 */
async function openTeamPython(
  settings: SpecialistSettings,
  resolved: ResolvedRepoSettings,
  sandbox: Sandbox,
  log: Logger,
): Promise<OpenedPythonEnv | undefined> {
  const dir = resolved.sandbox.pythonEnv;
  if (!dir) return undefined;
  const opened = await openPythonEnv(dir, sandbox, {
    baseEnv: settings.tools.baseEnv,
    guard: { home: settings.tools.baseEnv.HOME, protect: [settings.workspaceDir, resolved.stateDir] },
  });
  const d = opened.description;
  log.info(
    {
      pythonEnv: opened.env.dir,
      kind: opened.env.kind,
      interpreter: d.interpreter,
      version: opened.sysVersion,
      mounts: opened.env.mounts,
      packages: d.packages.map((p) => `${p.name} ${p.version}`),
    },
    "commands run the team's Python environment (MLLEAD_PYTHON_ENV), read-only and first on PATH",
  );
  return opened;
}

import { createSandbox, type Sandbox, summarizeSandboxEnv } from "@mllead/sandbox";
import type { Logger } from "pino";
import { resolveRepoSettings, type SpecialistSettings } from "./config.js";
import { openSourceRepo, type SourceRepo } from "./git-repo.js";

/** What every step of this process shares: the team's repository and the sandbox its commands run in. */
export interface StepEnvironment {
  source: SourceRepo;
  sandbox: Sandbox;
  settings: ReturnType<typeof resolveRepoSettings>;
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
  return { source, sandbox, settings: resolved };
}

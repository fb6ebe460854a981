import { createSandbox, type Sandbox } from "@mllead/sandbox";
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
 * repository) and detects the sandbox once per process. A weaker sandbox is
 * logged here and shown in each step's thread message.
 */
export async function openStepEnvironment(settings: SpecialistSettings, log: Logger): Promise<StepEnvironment> {
  const resolved = resolveRepoSettings(settings);
  const [source, sandbox] = await Promise.all([
    openSourceRepo({ repo: resolved.repo, stateDir: resolved.stateDir, demoSourceDir: resolved.demoSourceDir }),
    createSandbox({ mode: resolved.sandbox.mode }),
  ]);
  for (const w of source.warnings) log.warn({ repo: source.label }, w);
  log.info({ repo: source.label, kind: source.kind, workspaceDir: settings.workspaceDir }, "team repository ready");
  if (sandbox.warning) log.warn({ sandbox: sandbox.kind }, sandbox.warning);
  else log.info({ sandbox: sandbox.kind, limits: sandbox.enforcement }, "commands run under bubblewrap");
  return { source, sandbox, settings: resolved };
}

import { BrainConfig } from "@mllead/brain";
import { ROLES, Role } from "@mllead/contracts";
import { z } from "zod";
import type { ToolSettings } from "./tools.js";

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
  /** Root of the per-task workspaces. */
  MLLEAD_WORKSPACE_DIR: z.string().default(".mllead/workspaces"),
  /** Steps each role's consumer runs at once in this process. */
  MLLEAD_STEP_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** Default timeout of a specialist's command (s). */
  MLLEAD_COMMAND_TIMEOUT_SEC: z.coerce.number().int().positive().default(300),
});
export type SpecialistEnv = z.output<typeof SpecialistEnv>;

/** The environment sandboxed commands start from (scrubbed of secrets before each command). */
export function commandBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  return { ...env };
}

/** What the app needs to know, independent of where it came from. */
export interface SpecialistSettings {
  roles: Role[];
  workspaceDir: string;
  /** Steps per role consumer at once. */
  concurrency: number;
  tools: ToolSettings;
}

/** Default tool limits; tests override the few they exercise. */
export function defaultToolSettings(baseEnv: Readonly<Record<string, string | undefined>>): ToolSettings {
  return {
    baseEnv,
    commandTimeoutSec: 300,
    maxCommandTimeoutSec: 6 * 3600,
    killGraceMs: 5000,
    maxOutputBytes: 64 * 1024,
    gpuWait: { marginSec: 600, pollMs: 5000 },
  };
}

/** Settings from the parsed environment. */
export function settingsFromEnv(
  config: SpecialistEnv,
  baseEnv: Readonly<Record<string, string | undefined>>,
): SpecialistSettings {
  return {
    roles: config.MLLEAD_ROLES,
    workspaceDir: config.MLLEAD_WORKSPACE_DIR,
    concurrency: config.MLLEAD_STEP_CONCURRENCY,
    tools: { ...defaultToolSettings(baseEnv), commandTimeoutSec: config.MLLEAD_COMMAND_TIMEOUT_SEC },
  };
}

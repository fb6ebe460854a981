import { EFFORT_LEVELS } from "@mllead/agents";
import type { BrainKind } from "@mllead/contracts";
import type { Logger } from "pino";
import { z } from "zod";
import { createBrain } from "./create.js";
import type { Brain } from "./types.js";

/** The variables that choose and configure the brain; services merge this into their config. */
export const BrainConfig = z.object({
  /** `anthropic` | `offline`; default `anthropic` when ANTHROPIC_API_KEY is set, else `offline`. */
  MLLEAD_BRAIN: z.enum(["anthropic", "offline"]).optional(),
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: z.url().optional(),
  /** One model id for every agent, instead of each agent file's `model`. */
  MLLEAD_CLAUDE_MODEL: z.string().optional(),
  /** A folder of agent definitions that replace the shipped ones by name (the seed file works as it is). */
  MLLEAD_AGENTS_DIR: z.string().optional(),
  /** Model requests one specialist step may make. */
  MLLEAD_STEP_MAX_ITERATIONS: z.coerce.number().int().min(1).max(1000).default(60),
  /** Tokens one specialist step may spend (input + output + cache reads and writes). */
  MLLEAD_STEP_TOKEN_BUDGET: z.coerce.number().int().min(1000).default(4_000_000),
  /**
   * Adaptive thinking: `agents` (each agent file's `effort:` decides — the shipped tech lead and code reviewer
   * think at `high`), `off` (no thinking or effort is sent, for a model without adaptive thinking), or an effort
   * level (`low` … `max`) for every agent's plans and steps.
   */
  MLLEAD_THINKING: z.enum(["agents", "off", ...EFFORT_LEVELS]).default("agents"),
  /** Wall-clock limit of one specialist step in seconds, GPU waits included. */
  MLLEAD_STEP_TIME_LIMIT_SEC: z.coerce
    .number()
    .int()
    .min(1)
    .default(6 * 3600),
});
export type BrainConfig = z.output<typeof BrainConfig>;

/** MLLEAD_BRAIN, else `anthropic` when a key is set, else `offline`. */
export function brainKind(config: BrainConfig): BrainKind {
  return config.MLLEAD_BRAIN ?? (config.ANTHROPIC_API_KEY ? "anthropic" : "offline");
}

/** Builds the configured brain; fails with a clear error when `anthropic` is chosen without a key. */
export async function brainFromConfig(config: BrainConfig, log: Logger): Promise<Brain> {
  return createBrain({
    kind: brainKind(config),
    log,
    ...(config.MLLEAD_AGENTS_DIR ? { agentsDir: config.MLLEAD_AGENTS_DIR } : {}),
    ...(config.ANTHROPIC_API_KEY
      ? {
          anthropic: {
            apiKey: config.ANTHROPIC_API_KEY,
            ...(config.ANTHROPIC_BASE_URL ? { baseURL: config.ANTHROPIC_BASE_URL } : {}),
            ...(config.MLLEAD_CLAUDE_MODEL ? { model: config.MLLEAD_CLAUDE_MODEL } : {}),
            thinking: config.MLLEAD_THINKING,
            stepLimits: {
              maxIterations: config.MLLEAD_STEP_MAX_ITERATIONS,
              tokenBudget: config.MLLEAD_STEP_TOKEN_BUDGET,
              timeLimitMs: config.MLLEAD_STEP_TIME_LIMIT_SEC * 1000,
            },
          },
        }
      : {}),
  });
}

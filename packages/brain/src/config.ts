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
          },
        }
      : {}),
  });
}

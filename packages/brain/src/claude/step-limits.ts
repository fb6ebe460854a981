import type { Logger } from "pino";
import type { Thinking } from "./thinking.js";

/** Limits of one step's tool loop. */
export interface StepLoopLimits {
  /** Model requests per step attempt (across resumes). Default 60. */
  maxIterations: number;
  /** Tokens per step attempt: input + output + cache reads + cache writes. Default 4,000,000. */
  tokenBudget: number;
  /** Wall-clock limit per step attempt in ms, counted from its first start (GPU waits included). Default 6 h. */
  timeLimitMs: number;
  /** When tool results in the conversation pass this many characters, the older ones are cleared. Default 160,000. */
  clearToolResultsOverChars: number;
  /** max_tokens of each request. Default 16,000. */
  maxTokens: number;
}

/** The limits a step loop runs under unless the service sets others. */
export const DEFAULT_STEP_LIMITS: StepLoopLimits = {
  maxIterations: 60,
  tokenBudget: 4_000_000,
  timeLimitMs: 6 * 3600_000,
  clearToolResultsOverChars: 160_000,
  maxTokens: 16_000,
};

/** What a step's loop is given besides the work and tools. */
export interface StepLoopOptions {
  model: string;
  /** The agent file's prompt; mllead's working rules are appended. */
  systemPrompt: string;
  /** The agent file's `tools:` line (empty = all). */
  agentTools: readonly string[];
  log: Logger;
  limits?: Partial<StepLoopLimits>;
  /** Adaptive thinking at this effort (the agent file's `effort:`, or MLLEAD_THINKING); absent: the model's default. */
  thinking?: Thinking;
}

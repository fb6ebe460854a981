import Anthropic from "@anthropic-ai/sdk";
import type { Logger } from "pino";

/** Model aliases used in agent files (`model: opus`) → Messages API model ids. */
export const MODEL_ALIASES: Readonly<Record<string, string>> = {
  opus: "claude-opus-5-5",
  sonnet: "claude-sonnet-5-5",
  haiku: "claude-haiku-5-5",
};

/** The model id for an agent's `model` field; `override` (MLLEAD_CLAUDE_MODEL) wins. */
export function resolveModel(agentModel: string | undefined, override?: string): string {
  if (override) return override;
  if (!agentModel || agentModel === "inherit") return MODEL_ALIASES.sonnet as string;
  return MODEL_ALIASES[agentModel] ?? agentModel;
}

export interface ClaudeClientOptions {
  apiKey: string;
  /** ANTHROPIC_BASE_URL: another Messages API endpoint (a proxy, or the local fake in tests). */
  baseURL?: string;
  /** Retries of 408/409/429/5xx by the SDK (with its own backoff and `retry-after`). Default 3. */
  maxRetries?: number;
  /** Per-request timeout, ms. Default 120 s. */
  timeoutMs?: number;
}

/** One Anthropic client for the process; the SDK owns retries, backoff and connection reuse. */
export function createClaudeClient(opts: ClaudeClientOptions): Anthropic {
  return new Anthropic({
    apiKey: opts.apiKey,
    ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
    maxRetries: opts.maxRetries ?? 3,
    timeout: opts.timeoutMs ?? 120_000,
  });
}

/** Token use of one call, for the log (and later, cost accounting). */
export function logUsage(log: Logger, what: string, usage: Anthropic.Usage | undefined): void {
  if (!usage) return;
  log.info(
    {
      inputTokens: usage.input_tokens,
      outputTokens: usage.output_tokens,
      cacheReadTokens: usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
    },
    `claude ${what}`,
  );
}

/** A system prompt block cached across calls (the agent's prompt is long and identical every time). */
export function cachedSystem(text: string): Anthropic.TextBlockParam[] {
  return [{ type: "text", text, cache_control: { type: "ephemeral" } }];
}

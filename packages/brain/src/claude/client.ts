import Anthropic from "@anthropic-ai/sdk";
import { MODEL_ALIASES, type Usage, withCost } from "@mllead/contracts";
import type { Logger } from "pino";

/** The model id for an agent's `model` field; `override` (MLLEAD_CLAUDE_MODEL) wins. */
export function resolveModel(agentModel: string | undefined, override?: string): string {
  if (override) return override;
  if (!agentModel || agentModel === "inherit") return MODEL_ALIASES.sonnet as string;
  return MODEL_ALIASES[agentModel] ?? agentModel;
}

interface ClaudeClientOptions {
  apiKey: string;
  /** ANTHROPIC_BASE_URL: another Messages API endpoint (a proxy, or the local fake in tests). */
  baseURL?: string;
  /** Retries of 408/409/429/5xx by the SDK (with its own backoff and `retry-after`). Default 3. */
  maxRetries?: number;
  /**
   * Per-request timeout, ms: how long the SDK waits for the response to start. Every call of the brain streams
   * (the plans, the summary and each turn of a step's loop), so this bounds a stalled connection, never the length
   * of a reply: a turn that writes for 150 s is not cut off and asked again. Default 120 s.
   */
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

/** The API's usage of one reply (Messages or beta Messages), as our Usage: one request on `model`, priced. */
export function usageOf(
  u: Pick<Anthropic.Usage, "input_tokens" | "output_tokens"> & {
    cache_read_input_tokens?: number | null;
    cache_creation_input_tokens?: number | null;
    cache_creation?: { ephemeral_1h_input_tokens?: number | null } | null;
  },
  model: string,
): Usage {
  const write1h = u.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  return withCost(
    {
      inputTokens: u.input_tokens,
      outputTokens: u.output_tokens,
      cacheReadTokens: u.cache_read_input_tokens ?? 0,
      cacheWriteTokens: u.cache_creation_input_tokens ?? 0,
      requests: 1,
      toolCalls: 0,
      ...(write1h > 0 ? { cacheWrite1hTokens: write1h } : {}),
    },
    model,
  );
}

/** Token use and cost of one call, for the log. */
export function logUsage(log: Logger, what: string, usage: Usage): void {
  log.info(
    {
      model: usage.model,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      cacheReadTokens: usage.cacheReadTokens,
      cacheWriteTokens: usage.cacheWriteTokens,
      costUsd: usage.costUsd,
    },
    `claude ${what}`,
  );
}

/** A system prompt block cached across calls (the agent's prompt is long and identical every time). */
export function cachedSystem(text: string): Anthropic.TextBlockParam[] {
  return [{ type: "text", text, cache_control: { type: "ephemeral" } }];
}

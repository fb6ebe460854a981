import Anthropic from "@anthropic-ai/sdk";
import type { MessageStreamParams } from "@anthropic-ai/sdk/resources/messages/messages";
import { addUsage, type Usage } from "@mllead/contracts";
import type { Logger } from "pino";
import { ClaudeRequestError, TransientBrainError } from "../errors.js";
import { type BrainCall, callName, callNoun } from "./call-nouns.js";

/**
 * How the tech lead's calls wait out an overloaded or unreachable API, on top of the SDK's own retries
 * (`maxRetries` of the client, a few seconds in all): a 529 burst longer than that is retried here.
 */
export interface RetryPolicy {
  /** Calls after the first one. Default 5. */
  retries: number;
  /** The first wait in ms; it doubles each time (with jitter) up to `maxDelayMs`. Default 4 s. */
  baseDelayMs: number;
  /** The longest single wait in ms; also caps a `retry-after` the API sends. Default 60 s. */
  maxDelayMs: number;
}

/** About 4 + 8 + 16 + 32 + 60 s ≈ 2 minutes of waiting before a TransientBrainError. */
export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 4000, maxDelayMs: 60_000 };

/** What every structured Claude call of the tech lead (plan, summary, lesson) is made with. */
export interface StructuredCallOptions {
  model: string;
  systemPrompt: string;
  log: Logger;
  /** Repair rounds after the first answer (each call's default is in its own options). */
  repairs?: number;
  /** max_tokens of each request (each call's default is in its own options). */
  maxTokens?: number;
  /** Backoff for an overloaded or unreachable API (see DEFAULT_RETRY). */
  retry?: Partial<RetryPolicy>;
}

const TRANSIENT_TYPES = new Set(["overloaded_error", "rate_limit_error", "api_error", "timeout_error"]);

type ErrorBody = { type?: string; message?: string; error?: { type?: string; message?: string } } | undefined;

/** The error body's `type`, e.g. `overloaded_error` (also for an error event in the middle of a stream). */
function errorType(err: InstanceType<typeof Anthropic.APIError>): string | undefined {
  const body = err.error as ErrorBody;
  return body?.error?.type ?? (body?.type === "error" ? undefined : body?.type);
}

/** The error body's own message, e.g. `invalid x-api-key`. */
function errorMessage(err: InstanceType<typeof Anthropic.APIError>): string {
  const body = err.error as ErrorBody;
  return body?.error?.message ?? body?.message ?? err.message;
}

/** Overloaded, rate-limited, failing on its side, or unreachable: worth asking again later. */
export function isTransient(err: unknown): boolean {
  if (err instanceof Anthropic.APIUserAbortError) return false;
  if (err instanceof Anthropic.APIConnectionError) return true;
  if (!(err instanceof Anthropic.APIError)) return false;
  const status = err.status;
  if (status === undefined) return TRANSIENT_TYPES.has(errorType(err) ?? "");
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function retryAfterMs(err: unknown): number | undefined {
  if (!(err instanceof Anthropic.APIError) || !err.headers) return undefined;
  const ms = Number(err.headers.get("retry-after-ms"));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const s = Number(err.headers.get("retry-after"));
  return Number.isFinite(s) && s > 0 ? s * 1000 : undefined;
}

function describe(err: unknown): string {
  if (err instanceof Anthropic.APIConnectionTimeoutError) return "the request timed out";
  if (err instanceof Anthropic.APIConnectionError) return "the connection failed";
  if (err instanceof Anthropic.APIError) {
    const type = errorType(err);
    return [err.status, type].filter(Boolean).join(" ") || err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a call needs besides its request. */
interface CallContext {
  call: BrainCall;
  log: Logger;
  retry?: Partial<RetryPolicy>;
}

/**
 * Runs `attempt` and, while it fails with a transient API error, runs it again after an exponential backoff
 * with jitter (honouring `retry-after`, capped by the policy); after `retries` more tries the last error
 * becomes a TransientBrainError. Any other error passes through unchanged.
 */
export async function retryTransient<T>(attempt: () => Promise<T>, ctx: CallContext): Promise<T> {
  const policy = { ...DEFAULT_RETRY, ...ctx.retry };
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransient(err)) throw err;
      const hint = retryAfterMs(err);
      if (tries > policy.retries) {
        throw new TransientBrainError(
          ctx.call,
          `Claude is overloaded or unreachable (${describe(err)}), still after ${tries} tries, so there is no ${callName(ctx.call)} yet. Nothing is lost: retry in a few minutes.`,
          hint,
          { cause: err, detail: err instanceof Error ? err.message : String(err) },
        );
      }
      const backoff = Math.min(policy.baseDelayMs * 2 ** (tries - 1), policy.maxDelayMs) * (1 - Math.random() * 0.25);
      const wait = Math.min(Math.max(hint ?? 0, backoff), policy.maxDelayMs);
      ctx.log.warn({ err: describe(err), tries, waitMs: Math.round(wait) }, `claude ${ctx.call}: transient error, retrying`);
      await sleep(wait);
    }
  }
}

/**
 * One Messages API call of the tech lead, streamed (a long plan would otherwise hit the SDK's non-streaming
 * limits) and collected with `finalMessage()`. Transient failures are retried (`retryTransient`), then end in
 * a TransientBrainError; a request the API rejects outright ends in a ClaudeRequestError. The SDK's output
 * parsing is not used: callers read the text and check it themselves, so a refusal or a cut answer reaches
 * them as a message, not a throw.
 */
export async function streamMessage(
  client: Anthropic,
  params: MessageStreamParams,
  ctx: CallContext,
): Promise<Anthropic.Message> {
  try {
    return await retryTransient(() => client.messages.stream(params).finalMessage(), ctx);
  } catch (err) {
    if (err instanceof Anthropic.APIError && !(err instanceof Anthropic.APIUserAbortError) && !isTransient(err)) {
      throw new ClaudeRequestError(
        ctx.call,
        err.status,
        `The Claude API rejected the request for ${callNoun(ctx.call)} (${describe(err)}: ${errorMessage(err)}). Asking again will not help until the configuration is fixed (the API key, the model id, the account's limits).`,
        { cause: err, detail: err.message },
      );
    }
    throw err;
  }
}

/** The text blocks of a reply, joined. */
export function replyText(message: Anthropic.Message): string {
  return message.content
    .filter((b): b is Anthropic.TextBlock => b.type === "text")
    .map((b) => b.text)
    .join("");
}

/** Hands the calls' summed usage to the caller's callback; a callback that throws is logged, never fails the call. */
export function reportUsage(log: Logger, onUsage: ((usage: Usage) => void) | undefined, used: readonly Usage[]): void {
  if (!onUsage || used.length === 0) return;
  try {
    onUsage(addUsage(...used));
  } catch (err) {
    log.warn({ err }, "the onUsage callback threw");
  }
}

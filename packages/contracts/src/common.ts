import { z } from "zod";

/** Wire-format version carried by every payload. Bump on a breaking change; consumers reject what they do not know. */
export const SCHEMA_VERSION = 1 as const;
export const Version = z.literal(SCHEMA_VERSION);

/**
 * Ids travel inside NATS subjects, so they may hold only characters that are
 * legal in a single subject token (no `.`, `*`, `>` or whitespace).
 */
export const Id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "ids may only contain letters, digits, '_' and '-'");
export type Id = z.infer<typeof Id>;

/** ISO-8601 timestamp. */
export const Timestamp = z.iso.datetime({ offset: true });

/** The four specialists of the seed's team. */
export const ROLES = ["data-engineer", "ml-engineer", "analyst", "code-reviewer"] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

/** Which brain produced a plan or a result; offline output is always labelled as such in Slack. */
export const BrainKind = z.enum(["offline", "anthropic"]);
export type BrainKind = z.infer<typeof BrainKind>;

/**
 * A W3C trace context (https://www.w3.org/TR/trace-context/) kept on a record, so that work on it days later
 * (after a person's approval, after a restart) joins the trace it started in.
 */
export const TraceContext = z.object({
  traceparent: z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, "not a W3C traceparent"),
  tracestate: z.string().max(512).optional(),
});
export type TraceContext = z.infer<typeof TraceContext>;

/** Where a task lives in Slack. `threadTs` is the thread's root message. */
export const SlackRef = z.object({
  teamId: z.string().optional(),
  channel: z.string().min(1),
  threadTs: z.string().min(1),
  messageTs: z.string().min(1),
});
export type SlackRef = z.infer<typeof SlackRef>;

/** A person in Slack. */
export const Person = z.object({ userId: z.string().min(1) });
export type Person = z.infer<typeof Person>;

/** A stored artifact: a file in the Object Store bucket `artifacts`. */
export const Artifact = z.object({
  name: z.string().min(1).max(200),
  objectName: z.string().min(1).max(400),
  contentType: z.string().default("application/octet-stream"),
  bytes: z.number().int().nonnegative(),
});
export type Artifact = z.infer<typeof Artifact>;

/** Named numeric results (accuracy, loss, …). */
export const Metrics = z.record(z.string(), z.number());
export type Metrics = z.infer<typeof Metrics>;

/**
 * Tokens a model call (or a sum of calls) used, the way the Messages API counts
 * them: `inputTokens` excludes the cached prefix read and written. The optional
 * fields came later; payloads without them still parse.
 */
export const Usage = z.object({
  inputTokens: z.number().int().nonnegative().default(0),
  outputTokens: z.number().int().nonnegative().default(0),
  cacheReadTokens: z.number().int().nonnegative().default(0),
  cacheWriteTokens: z.number().int().nonnegative().default(0),
  /** Model requests made. */
  requests: z.number().int().nonnegative().default(0),
  /** Tool calls the model made. */
  toolCalls: z.number().int().nonnegative().default(0),
  /** The part of `cacheWriteTokens` written with the 1-hour TTL (priced above 5-minute writes); absent = none. */
  cacheWrite1hTokens: z.number().int().nonnegative().optional(),
  /** The model id of the calls; absent on a sum over several models (or an older payload). */
  model: z.string().min(1).max(200).optional(),
  /** What the calls cost in USD at the price table of the time (`withCost` in pricing.ts); absent = not priced. */
  costUsd: z.number().nonnegative().optional(),
  /** Models whose tokens are counted here but not in `costUsd` (no price known); `costUsd` is then a lower bound. */
  unpricedModels: z.array(z.string().max(200)).max(20).optional(),
});
export type Usage = z.infer<typeof Usage>;

/**
 * The sum of some usages: tokens, requests and tool calls added; `costUsd` added over the parts that have
 * one, and every part with tokens but no cost named in `unpricedModels`; `model` kept when all parts share it.
 */
export function addUsage(...usages: (Usage | undefined)[]): Usage {
  const out: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, requests: 0, toolCalls: 0 };
  let write1h: number | undefined;
  let cost: number | undefined;
  const models = new Set<string>();
  const unpriced = new Set<string>();
  for (const u of usages) {
    if (!u) continue;
    out.inputTokens += u.inputTokens;
    out.outputTokens += u.outputTokens;
    out.cacheReadTokens += u.cacheReadTokens;
    out.cacheWriteTokens += u.cacheWriteTokens;
    out.requests += u.requests;
    out.toolCalls += u.toolCalls;
    if (u.cacheWrite1hTokens !== undefined) write1h = (write1h ?? 0) + u.cacheWrite1hTokens;
    if (u.costUsd !== undefined) cost = (cost ?? 0) + u.costUsd;
    for (const m of u.unpricedModels ?? []) unpriced.add(m);
    const tokens = u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens;
    if (u.costUsd === undefined && tokens > 0) unpriced.add(u.model ?? "unknown");
    models.add(u.model ?? "");
  }
  const [only] = models;
  if (models.size === 1 && only) out.model = only;
  if (write1h !== undefined) out.cacheWrite1hTokens = write1h;
  if (cost !== undefined) out.costUsd = cost;
  if (unpriced.size > 0) out.unpricedModels = [...unpriced].slice(0, 20);
  return out;
}

import type { Usage } from "./common.js";

/** Prices of one model in USD per million tokens (MTok), as Anthropic lists them. */
export interface ModelPrice {
  input: number;
  output: number;
  /** Cache writes with the default 5-minute TTL. */
  cacheWrite5m: number;
  /** Cache writes with the 1-hour TTL. */
  cacheWrite1h: number;
  /** Cache hits and refreshes. */
  cacheRead: number;
  /** Rates for a request whose prompt (input + cache reads + cache writes) passes `thresholdTokens`. */
  longPrompt?: Omit<ModelPrice, "longPrompt"> & { thresholdTokens: number };
}

/** The day the table below was taken from Anthropic's pricing pages. */
export const MODEL_PRICES_AS_OF = "2026-11-25";

const price = (input: number, output: number, cacheWrite5m: number, cacheWrite1h: number, cacheRead: number): ModelPrice => ({
  input,
  output,
  cacheWrite5m,
  cacheWrite1h,
  cacheRead,
});

/**
 * Standard (non-batch, global) API prices in USD per MTok by model id, as listed on
 * https://platform.claude.com/docs/en/about-claude/pricing and the models' overview pages on
 * MODEL_PRICES_AS_OF. PRICES CHANGE: check that page and update the table and the date. Costs computed
 * from it are estimates for people (the status card, the summary, the task budget), not an invoice:
 * batch, `inference_geo`, fast mode and negotiated discounts are not modelled.
 */
export const MODEL_PRICES_USD_PER_MTOK: Readonly<Record<string, ModelPrice>> = {
  "claude-fable-5-2": price(8, 40, 10, 16, 0.2),
  "claude-mythos-5-2": price(8, 40, 10, 16, 0.2),
  "claude-fable-5-1": price(10, 50, 12.5, 20, 0.25),
  "claude-mythos-5-1": price(10, 50, 12.5, 20, 0.25),
  "claude-fable-5": price(10, 50, 12.5, 20, 1),
  "claude-mythos-5": price(10, 50, 12.5, 20, 1),
  "claude-opus-5-5": price(4, 20, 5, 8, 0.2),
  "claude-opus-5": price(5, 25, 6.25, 10, 0.5),
  "claude-opus-4-8": price(5, 25, 6.25, 10, 0.5),
  "claude-opus-4-7": price(5, 25, 6.25, 10, 0.5),
  "claude-opus-4-6": price(5, 25, 6.25, 10, 0.5),
  "claude-opus-4-5": price(5, 25, 6.25, 10, 0.5),
  // Sonnet 5.5's cache reads were cut from $0.20 to $0.10 on 2026-10-07.
  "claude-sonnet-5-5": price(2, 10, 2.5, 4, 0.1),
  "claude-sonnet-5": price(2, 10, 2.5, 4, 0.2),
  "claude-sonnet-4-6": price(3, 15, 3.75, 6, 0.3),
  "claude-sonnet-4-5": price(3, 15, 3.75, 6, 0.3),
  // Haiku 5.5 bills a request whose prompt passes 100k tokens at 5x, output included.
  "claude-haiku-5-5": {
    ...price(0.1, 0.5, 0.125, 0.2, 0.01),
    longPrompt: { ...price(0.5, 2.5, 0.625, 1, 0.05), thresholdTokens: 100_000 },
  },
  "claude-haiku-4-5": price(1, 5, 1.25, 2, 0.1),
};

/** Model aliases used in agent files (`model: opus`) → Messages API model ids. */
export const MODEL_ALIASES: Readonly<Record<string, string>> = {
  opus: "claude-opus-5-5",
  sonnet: "claude-sonnet-5-5",
  haiku: "claude-haiku-5-5",
};

/**
 * The prices of a model id or alias: a dated snapshot (`claude-haiku-4-5-20251001`) or a context variant
 * (`claude-sonnet-5-5[1m]`) prices as its model. Undefined when the table does not know the model.
 */
export function priceOf(model: string): ModelPrice | undefined {
  const id = MODEL_ALIASES[model] ?? model;
  const base = id.replace(/\[[^\]]*\]$/, "").replace(/-\d{8}$/, "");
  return MODEL_PRICES_USD_PER_MTOK[base];
}

/**
 * What `usage` cost in USD on `model` (default `usage.model`), or undefined when the model has no price.
 * One request whose prompt passes a model's long-prompt threshold is priced at the long-prompt rates; a sum
 * of requests cannot be split that way and is priced at the base rates (a lower bound), so price each call
 * as it returns (`withCost`) and add the results.
 */
export function costOf(usage: Usage, model: string | undefined = usage.model): number | undefined {
  const p = model === undefined ? undefined : priceOf(model);
  if (!p) return undefined;
  const prompt = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  const rates = p.longPrompt && usage.requests <= 1 && prompt > p.longPrompt.thresholdTokens ? p.longPrompt : p;
  const write1h = Math.min(usage.cacheWrite1hTokens ?? 0, usage.cacheWriteTokens);
  const perMTok =
    usage.inputTokens * rates.input +
    usage.outputTokens * rates.output +
    (usage.cacheWriteTokens - write1h) * rates.cacheWrite5m +
    write1h * rates.cacheWrite1h +
    usage.cacheReadTokens * rates.cacheRead;
  return perMTok / 1_000_000;
}

/** `usage` of calls on `model`, with the model named and the cost set (or the model listed as unpriced). */
export function withCost(usage: Usage, model: string): Usage {
  const { costUsd: _cost, unpricedModels: _unpriced, ...counts } = usage;
  const cost = costOf(usage, model);
  return cost === undefined ? { ...counts, model, unpricedModels: [model] } : { ...counts, model, costUsd: cost };
}

/** A cost for people: `$12.30`, `$0.42`, `$0.042`, `$0.0042`; `≥` in front when some tokens had no price. */
export function formatUsd(usage: Pick<Usage, "costUsd" | "unpricedModels">): string {
  const usd = usage.costUsd ?? 0;
  const text = usd === 0 ? "0" : usd >= 0.1 ? usd.toFixed(2) : usd >= 0.01 ? usd.toFixed(3) : usd.toFixed(4);
  return `${usage.unpricedModels?.length ? "≥ " : ""}$${text}`;
}

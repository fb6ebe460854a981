import { describe, expect, it } from "vitest";
import { addUsage, Usage } from "./common.js";
import { costOf, formatUsd, MODEL_ALIASES, MODEL_PRICES_AS_OF, MODEL_PRICES_USD_PER_MTOK, priceOf, withCost } from "./pricing.js";

const usage = (u: Partial<Usage>): Usage => Usage.parse({ requests: 1, ...u });

describe("price table and costOf", () => {
  it("prices every token kind per MTok: input, output, 5-minute and 1-hour cache writes, cache reads", () => {
    // Opus 5.5: $4 in, $20 out, $5 / $8 cache writes, $0.20 cache reads.
    const u = usage({
      inputTokens: 1_000_000,
      outputTokens: 100_000,
      cacheWriteTokens: 300_000,
      cacheWrite1hTokens: 100_000,
      cacheReadTokens: 2_000_000,
    });
    expect(costOf(u, "claude-opus-5-5")).toBeCloseTo(4 + 2 + 0.2 * 5 + 0.1 * 8 + 2 * 0.2, 10);
  });

  it("resolves the agent files' aliases, dated snapshots and context variants; unknown models have no price", () => {
    for (const [alias, id] of Object.entries(MODEL_ALIASES)) {
      expect(priceOf(alias), alias).toBeDefined();
      expect(priceOf(alias)).toBe(priceOf(id));
    }
    expect(priceOf("claude-haiku-4-5-20251001")).toBe(MODEL_PRICES_USD_PER_MTOK["claude-haiku-4-5"]);
    expect(priceOf("claude-sonnet-5-5[1m]")).toBe(MODEL_PRICES_USD_PER_MTOK["claude-sonnet-5-5"]);
    expect(priceOf("claude-unknown-9")).toBeUndefined();
    expect(costOf(usage({ inputTokens: 10 }), "claude-unknown-9")).toBeUndefined();
    expect(costOf(usage({ inputTokens: 10 }))).toBeUndefined();
    expect(MODEL_PRICES_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("bills one long Haiku 5.5 prompt at the long-prompt rates, and a sum of requests at the base rates", () => {
    const long = usage({ inputTokens: 150_000, outputTokens: 1000 });
    expect(costOf(long, "haiku")).toBeCloseTo((150_000 * 0.5 + 1000 * 2.5) / 1e6, 12);
    expect(costOf({ ...long, requests: 2 }, "haiku")).toBeCloseTo((150_000 * 0.1 + 1000 * 0.5) / 1e6, 12);
  });

  it("withCost names the model and sets the cost; addUsage sums costs across models and keeps what is unpriced", () => {
    const plan = withCost(usage({ inputTokens: 2000, outputTokens: 1000 }), "claude-opus-5-5");
    expect(plan).toMatchObject({ model: "claude-opus-5-5", costUsd: (2000 * 4 + 1000 * 20) / 1e6 });
    const step = withCost(usage({ inputTokens: 10_000, outputTokens: 500, toolCalls: 3 }), "claude-sonnet-5-5");
    const task = addUsage(plan, step);
    expect(task.model).toBeUndefined();
    expect(task.costUsd).toBeCloseTo((plan.costUsd ?? 0) + (step.costUsd ?? 0), 12);
    expect(task).toMatchObject({ inputTokens: 12_000, outputTokens: 1500, requests: 2, toolCalls: 3 });
    expect(task.unpricedModels).toBeUndefined();
    const odd = withCost(usage({ inputTokens: 5 }), "claude-unknown-9");
    expect(odd).toMatchObject({ model: "claude-unknown-9", unpricedModels: ["claude-unknown-9"] });
    expect(odd.costUsd).toBeUndefined();
    const mixed = addUsage(task, odd, usage({ outputTokens: 7 }));
    expect(mixed.unpricedModels).toEqual(["claude-unknown-9", "unknown"]);
    expect(formatUsd(mixed)).toMatch(/^≥ \$0\.0\d+$/);
    expect(addUsage(plan, plan).model).toBe("claude-opus-5-5");
  });

  it("formats costs for people", () => {
    expect(formatUsd({ costUsd: 12.3 })).toBe("$12.30");
    expect(formatUsd({ costUsd: 0.4242 })).toBe("$0.42");
    expect(formatUsd({ costUsd: 0.04242 })).toBe("$0.042");
    expect(formatUsd({ costUsd: 0.004242 })).toBe("$0.0042");
    expect(formatUsd({})).toBe("$0");
  });

  it("parses usage payloads written before model and cost existed", () => {
    const old = Usage.parse({
      inputTokens: 1,
      outputTokens: 2,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      requests: 1,
      toolCalls: 0,
    });
    expect(old.model).toBeUndefined();
    expect(addUsage(old).unpricedModels).toEqual(["unknown"]);
  });
});

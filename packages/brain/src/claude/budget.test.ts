import type { Usage } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { budgetNotes } from "./budget.js";

const usage = (requests: number, tokens: number): Usage => ({
  inputTokens: tokens,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  requests,
  toolCalls: 0,
});
const start = Date.parse("2026-12-07T10:00:00Z");
const state = (requests: number, tokens: number, minutes: number) => ({
  maxIterations: 60,
  tokenBudget: 4_000_000,
  timeLimitMs: 6 * 3600_000,
  usage: usage(requests, tokens),
  startedAt: new Date(start).toISOString(),
  now: start + minutes * 60_000,
});

describe("budget notes", () => {
  it("say nothing below 80 % of every budget", () => {
    expect(budgetNotes(state(47, 3_100_000, 287), new Set())).toEqual([]);
  });

  it("tell what is spent and left of each budget past 80 %, once each", () => {
    const notes = budgetNotes(state(48, 3_300_000, 290), new Set());
    expect(notes.map((n) => n.kind)).toEqual(["requests", "tokens", "time"]);
    expect(notes[0]?.text).toMatch(/made 48 of its 60 model requests; 12 are left/);
    expect(notes[1]?.text).toMatch(/spent 3.3M of its 4.0M tokens; about 700k are left/);
    expect(notes[2]?.text).toMatch(/has run 4 h 50 min of its 6 h; 1 h 10 min are left/);
    expect(budgetNotes(state(50, 3_300_000, 290), new Set(["requests", "time"])).map((n) => n.kind)).toEqual(["tokens"]);
  });
});

import type { BetaMessageParam } from "@anthropic-ai/sdk/resources/beta/messages/messages";
import { describe, expect, it } from "vitest";
import { clearOldToolResults } from "./context.js";

function call(i: number, output: string): BetaMessageParam[] {
  return [
    { role: "assistant", content: [{ type: "tool_use", id: `t${i}`, name: "Bash", input: { command: `step ${i}` } }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: `t${i}`, content: output }] },
  ];
}

describe("clearing old tool results on long steps", () => {
  const history: BetaMessageParam[] = [{ role: "user", content: "do the step" }];
  for (let i = 0; i < 10; i++) history.push(...call(i, "x".repeat(1000)));

  it("leaves a conversation under the limit alone", () => {
    expect(clearOldToolResults(history, 20_000)).toBeNull();
  });

  it("over the limit, clears all but the six latest results and keeps every call", () => {
    const cleared = clearOldToolResults(history, 5_000);
    expect(cleared?.count).toBe(4);
    const results = (cleared?.messages ?? []).flatMap((m) =>
      typeof m.content === "string" ? [] : (m.content ?? []).filter((b) => b.type === "tool_result"),
    );
    expect(results.map((r) => (r.type === "tool_result" && typeof r.content === "string" ? r.content.length : 0))).toEqual([
      ...Array(4).fill(results[0]?.type === "tool_result" ? String(results[0].content).length : 0),
      1000,
      1000,
      1000,
      1000,
      1000,
      1000,
    ]);
    expect(String(results[0]?.type === "tool_result" && results[0].content)).toMatch(/cleared/);
    expect(cleared?.messages.filter((m) => m.role === "assistant")).toHaveLength(10);
    // The input is not changed in place.
    expect(JSON.stringify(history)).not.toContain("cleared");
    // Cleared results do not count again: a second pass with the same limit has nothing left to clear.
    expect(clearOldToolResults(cleared?.messages ?? [], 7_000)).toBeNull();
  });
});

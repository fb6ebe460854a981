import type { EventOf, TaskView } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { parseReplyDecision } from "../surfaces/approvals.js";
import { summaryCostLine, taskCostLine } from "./cost.js";
import { parseQuestionButtonValue, renderBrainFailed, renderBudgetReached } from "./questions.js";
import { renderStatusCard, statusLine } from "./status.js";

const base = { v: 1 as const, taskId: "t1", at: "2026-11-25T12:00:00.000Z" };
const json = (x: unknown) => JSON.stringify(x);

const view = (o: Partial<TaskView> = {}): TaskView => ({
  id: "t1",
  text: "train a baseline",
  state: "executing",
  revision: 1,
  requester: "UREQ",
  slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" },
  brain: "anthropic",
  steps: [{ id: "data", role: "data-engineer", title: "Split", status: "completed", attempt: 1, costUsd: 0.42 }],
  updatedAt: base.at,
  ...o,
});

const usage = {
  inputTokens: 41_200,
  outputTokens: 6100,
  cacheReadTokens: 120_000,
  cacheWriteTokens: 9000,
  requests: 12,
  toolCalls: 30,
  costUsd: 1.234,
};

describe("the tech lead's questions in the thread", () => {
  it("reads `retry` and `go on` replies as decisions", () => {
    for (const t of ["retry", "Retry!", "try again", "<@U0MLLEAD> retry please"])
      expect(parseReplyDecision(t)).toEqual({ decision: "retry" });
    for (const t of ["go on", "Go on.", "continue", "keep going"])
      expect(parseReplyDecision(t)).toEqual({ decision: "continue" });
    for (const t of ["should we retry later?", "go on with what?", "continue tomorrow"]) expect(parseReplyDecision(t)).toBeNull();
  });

  it("a failed plan offers Retry; an automatic retry says when and offers no button", () => {
    const e: EventOf<"task.brain_failed"> = {
      ...base,
      eventId: "t1.3.task.brain_failed",
      type: "task.brain_failed",
      call: "plan",
      code: "claude_refused",
      message: "Claude declined to write a plan for this task (3 tries). Rephrase the request, then retry.",
      attempt: 1,
    };
    const msg = renderBrainFailed(e, "anthropic");
    expect(json(msg.blocks)).toContain('"action_id":"mllead_retry"');
    expect(
      parseQuestionButtonValue(
        json(msg.blocks)
          .match(/"value":"(\{[^}]*\})"/)?.[1]
          ?.replace(/\\"/g, '"'),
      ),
    ).toEqual({ t: "t1" });
    expect(msg.text).toMatch(/Claude could not write a plan/);
    const auto = renderBrainFailed({ ...e, code: "brain_transient", retryAt: "2026-11-25T12:04:00.000Z" }, "anthropic");
    expect(json(auto.blocks)).not.toContain("mllead_retry");
    expect(json(auto.blocks)).toContain("I will try again by myself at 12:04 UTC");
  });

  it("the budget question has Go on and Stop, with its number on the buttons", () => {
    const msg = renderBudgetReached(
      {
        ...base,
        eventId: "t1.9.task.budget_reached",
        type: "task.budget_reached",
        costUsd: 5.2,
        budgetUsd: 5,
        raiseUsd: 5,
        ask: 2,
        requester: "UREQ",
      },
      "anthropic",
    );
    expect(msg.text).toContain("This task has used $5.20 of its $5.00 budget; go on?");
    expect(json(msg.blocks)).toContain('"action_id":"mllead_budget_go_on"');
    expect(json(msg.blocks)).toContain('"action_id":"mllead_budget_stop"');
    expect(json(msg.blocks)).toContain(json(json({ t: "t1", a: 2 })).slice(1, -1));
    expect(parseQuestionButtonValue('{"t":"t1","a":2}')).toEqual({ t: "t1", a: 2 });
    expect(parseQuestionButtonValue('{"t":"t1","a":-1}')).toEqual({ t: "t1" });
    expect(parseQuestionButtonValue("nope")).toBeNull();
  });
});

describe("cost in view", () => {
  it("the status card shows the cost so far against the budget, each step's cost, and what the task waits for", () => {
    const card = json(
      renderStatusCard(
        view({
          usage,
          budgetUsd: 5,
          waiting: { kind: "budget", message: "This task has used $1.23 of its $5.00 budget; go on?" },
        }),
        "anthropic",
      ).blocks,
    );
    expect(card).toContain(
      "Cost so far: $1.23 of its $5.00 budget · 41,200 in / 6,100 out tokens · cache 120,000 read / 9,000 written",
    );
    expect(card).toContain("· $0.42");
    expect(card).toContain("Reply `go on` or `stop`");
    expect(taskCostLine(view({ state: "done", usage }))).toMatch(/^:moneybag: Cost: \$1\.23/);
  });

  it("offline tasks cost $0 and say so, on the card, in /mllead status and under the summary", () => {
    const offline = view({ brain: "offline", steps: [] });
    expect(taskCostLine(offline)).toBe(":moneybag: Cost: $0 — offline brain, no Claude calls");
    expect(statusLine(offline)).toContain("$0 (offline)");
    expect(summaryCostLine({ brain: "offline" })).toBe("*Cost:* $0 — offline brain, no Claude calls");
    expect(summaryCostLine({ brain: "anthropic", usage })).toBe(
      "*Cost:* $1.23 · Claude: 12 requests · 30 tool calls · 41,200 in / 6,100 out tokens · cache 120,000 read / 9,000 written",
    );
    expect(statusLine(view({ usage, budgetUsd: 5 }))).toContain("· $1.23 of $5.00 ·");
  });
});

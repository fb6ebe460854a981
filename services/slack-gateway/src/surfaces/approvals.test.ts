import { describe, expect, it } from "vitest";
import { APPROVING_REACTIONS, parseReplyDecision } from "./approvals.js";

describe("thread replies as decisions", () => {
  it.each(["approve", "Approved!", "LGTM", "lgtm :+1:", "ship it", "Ship it.", "<@U0MLLEAD> approve", "approve the plan"])(
    "'%s' approves",
    (text) => {
      expect(parseReplyDecision(text)).toEqual({ decision: "approve" });
    },
  );

  it.each(["cancel", "Stop", "stop!", "cancel the task"])("'%s' cancels", (text) => {
    expect(parseReplyDecision(text)).toEqual({ decision: "cancel" });
  });

  it("takes the rest of a change request as feedback, keeping its case", () => {
    expect(parseReplyDecision("changes: use AUC instead of accuracy")).toEqual({
      decision: "request_changes",
      feedback: "use AUC instead of accuracy",
    });
    expect(parseReplyDecision("Change the split to 80/20")).toEqual({
      decision: "request_changes",
      feedback: "the split to 80/20",
    });
    expect(parseReplyDecision("revise: drop the analyst step\nand add a baseline")).toEqual({
      decision: "request_changes",
      feedback: "drop the analyst step\nand add a baseline",
    });
  });

  it.each([
    "I don't approve of tabs",
    "approved by legal?",
    "can we stop early if loss plateaus",
    "changes are fine",
    "changed my mind about lunch",
    "changes:",
    "thanks!",
    "",
  ])("'%s' is just conversation", (text) => {
    expect(parseReplyDecision(text)).toBeNull();
  });

  it("approves with check marks and thumbs up only", () => {
    expect([...APPROVING_REACTIONS].sort()).toEqual(["+1", "heavy_check_mark", "white_check_mark"]);
    expect(APPROVING_REACTIONS.has("eyes")).toBe(false);
  });
});

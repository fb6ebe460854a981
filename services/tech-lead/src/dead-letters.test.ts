import { describe, expect, it } from "vitest";
import { deadLetterRefusal, subjectMatches } from "./dead-letters.js";

describe("dead-letter desk rules", () => {
  it("matches NATS subjects as the consumers' filters do", () => {
    expect(subjectMatches("mllead.cmd.>", "mllead.cmd.task.create")).toBe(true);
    expect(subjectMatches("mllead.cmd.>", "mllead.cmd")).toBe(false);
    expect(subjectMatches("mllead.evt.task.*.step.*.*", "mllead.evt.task.t1.step.s1.completed")).toBe(true);
    expect(subjectMatches("mllead.evt.task.*.step.*.*", "mllead.evt.task.t1.task.cancelled")).toBe(false);
    expect(subjectMatches("mllead.evt.task.*.step.*.*", "mllead.evt.task.t1.step.s1.completed.x")).toBe(false);
  });

  it("lets approvers from Slack and the operator's CLI; with no approvers it says to set MLLEAD_APPROVERS", () => {
    const q = { v: 1 as const, via: "slack" as const, userId: "U1", action: "list" as const, limit: 10 };
    expect(deadLetterRefusal(q, false, ["U1"])).toBeNull();
    expect(deadLetterRefusal(q, false, ["U2"])).toMatch(/only approvers/);
    expect(deadLetterRefusal(q, false, [])).toMatch(/set MLLEAD_APPROVERS/);
    expect(deadLetterRefusal({ ...q, via: "cli" }, false, ["U1"])).toMatch(/mllead\.q\.dead\.cli/);
    expect(deadLetterRefusal({ ...q, via: "cli" }, true, [])).toBeNull();
  });
});

import {
  isAnswersFeedback,
  openQuestions,
  type Plan,
  StepWork,
  stepBrief,
  type TaskDecide,
  type TaskEvent,
  type TaskRecord,
} from "@mllead/contracts";
import { testPlan, testStep, testTaskRecord } from "@mllead/contracts/testing";
import { describe, expect, it } from "vitest";
import { applyDecision, applyPlan, type Policy } from "./orchestrator.js";

const NOW = "2026-12-07T12:00:00.000Z";
const policy: Policy = { approvers: [], maxReviewRounds: 1, maxReplans: 1 };

const asking: Plan = testPlan([testStep("data", "data-engineer"), testStep("review", "code-reviewer", { dependsOn: ["data"] })], {
  summary: "validate the table, then review",
  track: "production",
  assumptions: ["the label is churned"],
  risks: [{ risk: "leakage", mitigation: "split first" }],
  lessonsApplied: [{ id: "L1", text: "fix the seed" }],
  questions: [
    { id: "data", text: "Which table?", choices: ["customers.csv", "events.csv"] },
    { id: "metric", text: "Which metric decides?" },
  ],
});

/** A task whose first plan (with two questions) waits for a person. */
function waiting(plan: Plan = asking): TaskRecord {
  const planning = testTaskRecord({ plan: undefined, steps: {}, state: "planning", revision: 0 });
  return applyPlan(planning, plan, NOW);
}

let n = 0;
const decide = (decision: TaskDecide["decision"], extra: Partial<TaskDecide> = {}): TaskDecide => ({
  v: 1,
  taskId: "t1",
  decisionId: `d${++n}`,
  decision,
  userId: "UREQ",
  via: "button",
  decidedAt: NOW,
  revision: 1,
  ...extra,
});

const events = (t: TaskRecord | null) =>
  (t?.outbox ?? []).map((o) => o.payload as TaskEvent).filter((e) => e.type !== "task.updated");

describe("tech lead: a plan's questions are answered before it can be approved", () => {
  it("refuses an approval while questions are open, naming them", () => {
    const task = waiting();
    expect(openQuestions(task).map((q) => q.id)).toEqual(["data", "metric"]);
    const after = applyDecision(task, decide("approve"), policy, NOW);
    expect(after?.state).toBe("awaiting_approval");
    const rejected = events(after).at(-1);
    expect(rejected).toMatchObject({ type: "task.decision_rejected", decision: "approve" });
    expect(rejected && "reason" in rejected ? rejected.reason : "").toMatch(/Which table\?.*Which metric decides\?/);
  });

  it("records a button's answer and says what is still open; the last answer revises the plan with every answer", () => {
    const first = applyDecision(waiting(), decide("answer", { answers: [{ questionId: "data", choice: 1 }] }), policy, NOW);
    expect(first?.state).toBe("awaiting_approval");
    expect(events(first).at(-1)).toMatchObject({
      type: "task.question_answered",
      questionId: "data",
      answer: "events.csv",
      open: 1,
    });
    const second = applyDecision(first as TaskRecord, decide("answer", { via: "reply", feedback: "val AUC" }), policy, NOW);
    expect(second?.state).toBe("revising");
    const feedback = second?.feedback.at(-1)?.text ?? "";
    expect(isAnswersFeedback(feedback)).toBe(true);
    expect(feedback).toContain("Which table? → events.csv");
    expect(feedback).toContain("Which metric decides? → val AUC");
    expect(events(second).at(-1)).toMatchObject({ type: "task.changes_requested", answers: true, feedback });
    // The revision answers them: it can be approved, and the old answers do not leak into it.
    const revised = applyPlan(second as TaskRecord, { ...asking, questions: undefined }, NOW);
    expect(revised.answers).toBeUndefined();
    const approved = applyDecision(revised, decide("approve", { revision: 2 }), policy, NOW);
    expect(approved?.state).toBe("executing");
  });

  it("one reply answers every open question at once", () => {
    const after = applyDecision(waiting(), decide("answer", { via: "reply", feedback: "customers, by AUC" }), policy, NOW);
    expect(after?.state).toBe("revising");
    expect(after?.feedback.at(-1)?.text).toMatch(
      /Which table\? → customers, by AUC\n- metric: Which metric decides\? → customers, by AUC/,
    );
  });

  it("refuses an answer to no question, a choice the plan did not offer, a stale revision or a stranger", () => {
    const task = waiting();
    const reason = (t: TaskRecord | null) => {
      const e = events(t).at(-1);
      return e?.type === "task.decision_rejected" ? e.reason : `not rejected: ${e?.type}`;
    };
    expect(reason(applyDecision(task, decide("answer", { answers: [{ questionId: "nope", choice: 0 }] }), policy, NOW))).toMatch(
      /answered already or not in this plan/,
    );
    expect(reason(applyDecision(task, decide("answer", { answers: [{ questionId: "data", choice: 7 }] }), policy, NOW))).toMatch(
      /no choice 8/,
    );
    expect(reason(applyDecision(task, decide("answer", { revision: 3, feedback: "x" }), policy, NOW))).toMatch(/revision 3/);
    expect(reason(applyDecision(task, decide("answer", { userId: "USTRANGER", feedback: "x" }), policy, NOW))).toMatch(
      /Only <@UREQ>/,
    );
    expect(reason(applyDecision(task, decide("answer", { via: "reply" }), policy, NOW))).toMatch(/Say the answer/);
    const plain = waiting({ ...asking, questions: undefined });
    expect(reason(applyDecision(plain, decide("answer", { feedback: "x" }), policy, NOW))).toMatch(/no open question/);
  });

  it("gives every dispatched step the plan's brief: summary, track, assumptions, risks and lessons", () => {
    const plan = { ...asking, questions: undefined };
    const approved = applyDecision(waiting(plan), decide("approve"), policy, NOW);
    const work = approved?.outbox.map((o) => o.payload).find((p) => StepWork.safeParse(p).success);
    expect(StepWork.parse(work).brief).toEqual(stepBrief(plan));
    expect(stepBrief(plan)).toEqual({
      summary: "validate the table, then review",
      track: "production",
      assumptions: ["the label is churned"],
      risks: [{ risk: "leakage", mitigation: "split first" }],
      lessons: [{ id: "L1", text: "fix the seed" }],
    });
  });
});

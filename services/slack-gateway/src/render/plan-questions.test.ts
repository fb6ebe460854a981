import type { EventOf } from "@mllead/contracts";
import { testPlan, testStep } from "@mllead/contracts/testing";
import { blockProblems } from "@mllead/slack-sandbox";
import { describe, expect, it } from "vitest";
import { parseReplyDecision, plainAnswer } from "../surfaces/approvals.js";
import { PLAN_ACTIONS, renderPlan } from "./plan.js";
import { ANSWER_ACTION, parseAnswerButtonValue } from "./plan-questions.js";
import { renderChangesRequested, renderDecisionRejected, renderQuestionAnswered } from "./task-lines.js";

const AT = "2026-12-07T12:00:00.000Z";
const base = { v: 1 as const, taskId: "t1", at: AT };
const plan = testPlan([testStep("data", "data-engineer"), testStep("review", "code-reviewer", { dependsOn: ["data"] })], {
  assumptions: ["The label column is `churned`."],
  questions: [
    { id: "data", text: "Which table should the model learn from?", choices: ["customers.csv", "x".repeat(75)] },
    { id: "metric", text: "Which metric decides?" },
  ],
});
const planned: EventOf<"task.planned"> = { ...base, eventId: "e1", type: "task.planned", revision: 1, requester: "U1", plan };
const all = (blocks: unknown) => JSON.stringify(blocks);

describe("a plan's questions in the thread", () => {
  it("shows the assumptions, each question, a button per choice, and how to answer before approving", () => {
    const msg = renderPlan(planned);
    expect(blockProblems(msg.blocks)).toEqual([]);
    const text = all(msg.blocks);
    expect(text).toContain("Assumptions:");
    expect(text).toContain("The label column is `churned`.");
    expect(text).toContain("Which table should the model learn from?");
    expect(text).toContain("Which metric decides?");
    expect(text).toContain("Answer the questions above first");
    expect(msg.text).toContain("Questions: Which table");
    const buttons = (msg.blocks ?? [])
      .filter((b) => b.type === "actions")
      .flatMap((b) => ("elements" in b ? (b.elements as { action_id: string; value?: string }[]) : []));
    const answers = buttons.filter((b) => ANSWER_ACTION.test(b.action_id));
    expect(answers.map((b) => parseAnswerButtonValue(b.value))).toEqual([
      { t: "t1", r: 1, q: "data", c: 0 },
      { t: "t1", r: 1, q: "data", c: 1 },
    ]);
    // Approve stays: the tech lead refuses it privately while questions are open.
    expect(buttons.map((b) => b.action_id)).toContain(PLAN_ACTIONS.approve);
    expect(all(renderPlan({ ...planned, plan: { ...plan, questions: undefined } }).blocks)).not.toContain("mllead_answer_");
  });

  it("reads `answer: …` as an answer, and a plain reply only when the caller knows questions are open", () => {
    expect(parseReplyDecision("answer: the customers table, label churned")).toEqual({
      decision: "answer",
      feedback: "the customers table, label churned",
    });
    expect(parseReplyDecision("<@U0BOT> Answers: AUC")).toEqual({ decision: "answer", feedback: "AUC" });
    expect(parseReplyDecision("the customers table")).toBeNull();
    expect(plainAnswer("<@U0BOT>  the customers   table ")).toEqual({ decision: "answer", feedback: "the customers table" });
    expect(plainAnswer("<@U0BOT>")).toBeNull();
    expect(parseAnswerButtonValue('{"t":"t1","r":1,"q":"data","c":-1}')).toBeNull();
    expect(parseAnswerButtonValue("not json")).toBeNull();
  });

  it("says what was answered, what is still open, and when the plan is revised with the answers", () => {
    const one = renderQuestionAnswered(
      {
        ...base,
        eventId: "e2",
        type: "task.question_answered",
        userId: "U1",
        questionId: "data",
        question: "Which table?",
        answer: "customers.csv",
        open: 1,
      },
      "offline",
    );
    expect(all(one.blocks)).toMatch(/answered “Which table\?”: \*customers.csv\*. 1 question still open/);
    const done = renderChangesRequested(
      {
        ...base,
        eventId: "e3",
        type: "task.changes_requested",
        userId: "U1",
        feedback: "Answers to the plan's questions:\n- data: Which table? → customers.csv",
        answers: true,
      },
      "offline",
    );
    expect(all(done.blocks)).toMatch(/answered the plan's questions/);
    expect(all(done.blocks)).not.toContain("Answers to the plan's questions:");
    const refused = renderDecisionRejected({
      ...base,
      eventId: "e4",
      type: "task.decision_rejected",
      userId: "U1",
      decision: "answer",
      reason: "This plan has no open question.",
    });
    expect(refused.text).toContain("Your answer was not applied");
  });
});

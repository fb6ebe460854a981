import {
  type Finding,
  type Plan,
  REVIEW_CRITERIA,
  type StepResult,
  type TaskCreate,
  type TaskEvent,
  type TaskRecord,
} from "@mllead/contracts";
import { FIXTURE_NOW, testPlan, testStep } from "@mllead/contracts/testing";
import { describe, expect, it } from "vitest";
import { applyDecision, applyPlan, applyStepEvent, createTask, type Policy } from "./orchestrator.js";

const NOW = FIXTURE_NOW;
const policy: Policy = { approvers: [], maxReviewRounds: 1, maxReplans: 1 };

const plan: Plan = testPlan([
  testStep("data", "data-engineer"),
  testStep("train", "ml-engineer", { dependsOn: ["data"] }),
  testStep("review", "code-reviewer", { dependsOn: ["data", "train"] }),
]);

const create: TaskCreate = {
  v: 1,
  taskId: "t1",
  text: "train a baseline",
  requester: { userId: "UREQ" },
  slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" },
  requestedAt: NOW,
};

function completed(stepId: string, role: Plan["steps"][number]["role"], attempt: number, result: Partial<StepResult>) {
  return {
    v: 1 as const,
    eventId: `e-${stepId}-${attempt}`,
    taskId: "t1",
    at: NOW,
    type: "step.completed" as const,
    stepId,
    role,
    attempt,
    title: stepId,
    result: {
      status: "succeeded" as const,
      summary: stepId,
      artifacts: [],
      metrics: {},
      filesChanged: [],
      criteria: [{ id: "ac1", criterion: "a", met: true, evidence: "checked" }],
      ...result,
    },
  };
}

/** An approved task whose data and train steps completed: the review is dispatched. */
function reviewing(): TaskRecord {
  let t = applyPlan(createTask(create, NOW), plan, NOW);
  const decide = { v: 1 as const, taskId: "t1", decisionId: "d1", decision: "approve" as const, userId: "UREQ" };
  t = applyDecision(t, { ...decide, via: "button", decidedAt: NOW }, policy, NOW) as TaskRecord;
  t = applyStepEvent(t, completed("data", "data-engineer", 1, {}), policy, NOW) as TaskRecord;
  t = applyStepEvent(t, completed("train", "ml-engineer", 1, {}), policy, NOW) as TaskRecord;
  expect(t.state).toBe("reviewing");
  return { ...t, outbox: [] };
}

const leak: Finding = {
  severity: "blocker",
  category: "data_leakage",
  file: "prep.py",
  line: 5,
  message: "the scaler is fitted on all rows before the split",
  ownerStepId: "data",
};

const events = (t: TaskRecord) => t.outbox.map((m) => (m.payload as TaskEvent).type ?? m.subject);

describe("the review gate fixes instead of re-planning", () => {
  it("a reviewer criterion unmet (it found leakage) sends a fix round with every finding — not a re-plan", () => {
    const answers = REVIEW_CRITERIA.map((c) => ({ id: c.id, criterion: c.text, met: true, evidence: "done" }));
    answers[3] = { ...(answers[3] as (typeof answers)[number]), met: false, evidence: "the data step's split claim is false" };
    const t = applyStepEvent(
      reviewing(),
      completed("review", "code-reviewer", 1, {
        criteria: answers,
        verdict: { decision: "approve", summary: "approve, but see the audit", findings: [leak], checks: [] },
      }),
      policy,
      NOW,
    ) as TaskRecord;
    expect(t.state).toBe("fixing");
    expect(t.replans).toBe(0);
    expect(t.reviewRounds).toBe(1);
    expect(events(t)).not.toContain("task.replanning");
    // The owning step gets the reviewer's finding and the unmet criterion as a finding; nothing is dropped.
    const data = t.steps.data;
    expect(data).toMatchObject({ attempt: 2, status: "dispatched" });
    expect(data?.findings).toContainEqual(leak);
    expect(data?.findings.some((f) => f.message.includes("the data step's split claim is false"))).toBe(true);
    expect(t.steps.review?.findings).toHaveLength(2);
  });

  it("request_changes is a fix round too; past the allowed rounds the task fails with what is still unmet", () => {
    let t = applyStepEvent(
      reviewing(),
      completed("review", "code-reviewer", 1, {
        criteria: REVIEW_CRITERIA.map((c) => ({ id: c.id, criterion: c.text, met: true, evidence: "done" })),
        verdict: { decision: "request_changes", summary: "leaky scaler", findings: [leak], checks: [] },
      }),
      policy,
      NOW,
    ) as TaskRecord;
    expect(t.state).toBe("fixing");
    t = applyStepEvent(t, completed("data", "data-engineer", 2, {}), policy, NOW) as TaskRecord;
    t = applyStepEvent(t, completed("train", "ml-engineer", 2, {}), policy, NOW) as TaskRecord;
    t = applyStepEvent(
      t,
      completed("review", "code-reviewer", 2, {
        criteria: [{ id: "ac1", criterion: "verdict", met: false, evidence: "no verdict possible" }],
        verdict: { decision: "approve", summary: "ok", findings: [], checks: [] },
      }),
      policy,
      NOW,
    ) as TaskRecord;
    expect(t.state).toBe("failed");
    expect(t.failure).toMatch(/after 1 fix round\(s\): acceptance criteria not met: ac1/);
  });

  it("an approval with every criterion met completes the review", () => {
    const t = applyStepEvent(
      reviewing(),
      completed("review", "code-reviewer", 1, {
        criteria: REVIEW_CRITERIA.map((c) => ({ id: c.id, criterion: c.text, met: true, evidence: "done" })),
        verdict: { decision: "approve", summary: "clean", findings: [], checks: [] },
      }),
      policy,
      NOW,
    ) as TaskRecord;
    expect(t.state).toBe("reviewing");
    expect(t.steps.review?.status).toBe("completed");
  });
});

import { type Plan, type Role, SUBJECTS, type TaskCreate, type TaskRecord } from "@mllead/contracts";
import { FIXTURE_NOW, testPlan, testStep } from "@mllead/contracts/testing";
import { describe, expect, it } from "vitest";
import { applyDecision, applyPlan, applyStepEvent, createTask, type Policy } from "./orchestrator.js";
import { ignoredReport, type StepReport, subjectMismatch } from "./step-reports.js";

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

/** A task whose plan waits for approval. */
function awaiting(): TaskRecord {
  return { ...applyPlan(createTask(create, NOW), plan, NOW), outbox: [] };
}

/** An approved task: `data` dispatched (attempt 1), the rest pending. */
function approved(): TaskRecord {
  const decide = {
    v: 1 as const,
    taskId: "t1",
    decisionId: "d1",
    decision: "approve" as const,
    userId: "UREQ",
    via: "button" as const,
    decidedAt: NOW,
  };
  return { ...(applyDecision(awaiting(), decide, policy, NOW) as TaskRecord), outbox: [] };
}

function report(type: StepReport["type"], stepId: string, role: Role, attempt = 1): StepReport {
  const base = { v: 1 as const, eventId: `e-${type}-${stepId}-${attempt}`, taskId: "t1", at: NOW, stepId, role, attempt };
  if (type === "step.started") return { ...base, type, title: stepId };
  if (type === "step.progress") return { ...base, type, message: "half way" };
  if (type === "step.failed") return { ...base, type, title: stepId, error: "it broke" };
  return {
    ...base,
    type,
    title: stepId,
    result: {
      status: "succeeded",
      summary: "forged",
      artifacts: [],
      metrics: { auc: 0.99 },
      filesChanged: [],
      criteria: [{ id: "ac1", criterion: "a", met: true, evidence: "trust me" }],
    },
  };
}

describe("tech lead: a step report counts only for a step attempt it dispatched", () => {
  it("ignores a completed report for a step that was never dispatched (the task does not move on)", () => {
    const t = approved();
    const evt = report("step.completed", "train", "ml-engineer");
    expect(applyStepEvent(t, evt, policy, NOW)).toBeNull();
    expect(ignoredReport(t, evt)).toMatch(/never dispatched/);
  });

  it("ignores a failure report about a plan still waiting for approval (the task is not failed)", () => {
    const t = awaiting();
    expect(applyStepEvent(t, report("step.failed", "data", "data-engineer"), policy, NOW)).toBeNull();
    expect(applyStepEvent(t, report("step.completed", "review", "code-reviewer"), policy, NOW)).toBeNull();
  });

  it("ignores a report from another role than the step's, and one with another attempt", () => {
    const t = approved();
    const wrongRole = report("step.completed", "data", "analyst");
    expect(applyStepEvent(t, wrongRole, policy, NOW)).toBeNull();
    expect(ignoredReport(t, wrongRole)).toMatch(/data-engineer step, not a analyst step/);
    const stale = report("step.completed", "data", "data-engineer", 2);
    expect(applyStepEvent(t, stale, policy, NOW)).toBeNull();
    expect(ignoredReport(t, stale)).toMatch(/attempt 2 is not the step's current attempt \(1\)/);
  });

  it("ignores a repeated start, a report on a finished step, and anything about a finished task", () => {
    const running = applyStepEvent(approved(), report("step.started", "data", "data-engineer"), policy, NOW) as TaskRecord;
    expect(running.steps.data?.status).toBe("running");
    expect(ignoredReport(running, report("step.started", "data", "data-engineer"))).toMatch(/already started/);
    const done = applyStepEvent(running, report("step.completed", "data", "data-engineer"), policy, NOW) as TaskRecord;
    expect(done.steps.data?.status).toBe("completed");
    expect(applyStepEvent(done, report("step.failed", "data", "data-engineer"), policy, NOW)).toBeNull();
    const cancelled: TaskRecord = { ...done, state: "cancelled" };
    expect(ignoredReport(cancelled, report("step.completed", "train", "ml-engineer"))).toBe("the task is cancelled");
  });

  it("applies the report of the dispatched attempt: the next step is dispatched", () => {
    const t = applyStepEvent(approved(), report("step.completed", "data", "data-engineer"), policy, NOW) as TaskRecord;
    expect(t.steps.data?.status).toBe("completed");
    expect(t.steps.train?.status).toBe("dispatched");
  });

  it("tells a report that arrived on another task's, step's or kind's subject from one on its own", () => {
    const evt = report("step.completed", "data", "data-engineer");
    expect(subjectMismatch(SUBJECTS.event(evt), evt)).toBeNull();
    expect(subjectMismatch("mllead.evt.task.t2.step.data.completed", evt)).toMatch(
      /mllead\.evt\.task\.t1\.step\.data\.completed/,
    );
    expect(subjectMismatch("mllead.evt.task.t1.step.train.completed", evt)).not.toBeNull();
    expect(subjectMismatch("mllead.evt.task.t1.step.data.started", evt)).not.toBeNull();
  });
});

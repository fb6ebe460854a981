import { ClaudeRefusedError, ClaudeRequestError, TransientBrainError } from "@mllead/brain";
import {
  type Plan,
  type StepResult,
  type TaskCreate,
  type TaskDecide,
  type TaskEvent,
  type TaskRecord,
  toTaskView,
  type Usage,
} from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { withBudget } from "./cost.js";
import { awaitRetry, brainCallDue, settled, waitableFailure } from "./lead-failures.js";
import {
  applyDecision,
  applyPlan,
  applyStepEvent,
  completeTask,
  createTask,
  needsPlan,
  needsSummary,
  type Policy,
} from "./orchestrator.js";

const NOW = "2026-11-25T12:00:00.000Z";
const policy: Policy = { approvers: ["UAPPROVER"], maxReviewRounds: 1, maxReplans: 1 };

const handoff = (id: string, role: Plan["steps"][number]["role"], dependsOn: string[]) => ({
  id,
  role,
  title: `${id} step`,
  objective: "o",
  context: "c",
  requirements: ["r"],
  acceptanceCriteria: [{ id: "ac1", text: "a" }],
  params: {},
  nextHandoff: { to: "tech-lead" as const, reason: "done" },
  dependsOn,
  changesCode: role !== "code-reviewer",
  usesGpu: false,
});

/** The shape of an older plan (before the rules forced the review last): the analysis runs beside the review. */
const earlyReview: Plan = {
  summary: "data, then analysis and review side by side",
  scope: "multi-agent",
  risks: [],
  brain: "anthropic",
  steps: [
    handoff("data", "data-engineer", []),
    handoff("analysis", "analyst", ["data"]),
    handoff("review", "code-reviewer", ["data"]),
  ],
};

const sequential: Plan = {
  ...earlyReview,
  steps: [
    handoff("data", "data-engineer", []),
    handoff("train", "ml-engineer", ["data"]),
    handoff("review", "code-reviewer", ["data", "train"]),
  ],
};

const create: TaskCreate = {
  v: 1,
  taskId: "t1",
  text: "train a baseline on the churn table",
  requester: { userId: "UREQ" },
  slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" },
  requestedAt: NOW,
};

let seq = 0;
function decide(decision: TaskDecide["decision"], userId = "UREQ", extra: Partial<TaskDecide> = {}): TaskDecide {
  seq += 1;
  return { v: 1, taskId: "t1", decisionId: `d${seq}`, decision, userId, via: "button", decidedAt: NOW, ...extra };
}

const usage = (costUsd: number, model = "claude-sonnet-5-5"): Usage => ({
  inputTokens: 1000,
  outputTokens: 100,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  requests: 1,
  toolCalls: 2,
  model,
  costUsd,
});

function completed(stepId: string, role: Plan["steps"][number]["role"], extra: Partial<StepResult> = {}, attempt = 1) {
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
      summary: `${stepId} done`,
      artifacts: [],
      metrics: {},
      filesChanged: [],
      criteria: [{ id: "ac1", criterion: "a", met: true, evidence: "checked" }],
      ...extra,
    },
  };
}

const approve = { decision: "approve" as const, summary: "fine", findings: [], checks: [] };

function events(t: TaskRecord): TaskEvent[] {
  return t.outbox.filter((m) => !m.subject.startsWith("mllead.work")).map((m) => m.payload as TaskEvent);
}
const work = (t: TaskRecord) =>
  t.outbox.filter((m) => m.subject.startsWith("mllead.work")).map((m) => (m.payload as { stepId: string }).stepId);
const clean = (t: TaskRecord | null): TaskRecord => ({ ...(t as TaskRecord), outbox: [] });

function approved(plan: Plan, p: Policy = policy): TaskRecord {
  const planned = clean(applyPlan(withBudget(createTask(create, NOW), p), plan, NOW));
  return clean(applyDecision(planned, decide("approve"), p, NOW));
}

describe("a task completes only when every step has", () => {
  it("an early approval by the reviewer waits for the analysis that still runs; the summary comes after it", () => {
    let t = approved(earlyReview);
    t = clean(applyStepEvent(t, completed("data", "data-engineer"), policy, NOW));
    expect(t.steps.analysis?.status).toBe("dispatched");
    expect(t.steps.review?.status).toBe("dispatched");
    t = clean(applyStepEvent(t, completed("review", "code-reviewer", { verdict: approve }), policy, NOW));
    expect(t.state).toBe("reviewing");
    expect(needsSummary(t)).toBe(false);
    t = clean(applyStepEvent(t, completed("analysis", "analyst"), policy, NOW));
    expect(needsSummary(t)).toBe(true);
    expect(completeTask(t, "all done", NOW).state).toBe("done");
  });
});

describe("cost in view", () => {
  it("sums usage per step and per task, plan and summary included, into the view and task.completed", () => {
    let t = createTask(create, NOW);
    t = clean(applyPlan(settled(t, usage(0.1, "claude-opus-5-5")), sequential, NOW));
    t = clean(applyDecision(t, decide("approve"), policy, NOW));
    t = clean(applyStepEvent(t, completed("data", "data-engineer", { usage: usage(0.25) }), policy, NOW));
    t = clean(applyStepEvent(t, completed("train", "ml-engineer", { usage: usage(0.5) }), policy, NOW));
    t = clean(applyStepEvent(t, completed("review", "code-reviewer", { usage: usage(0.05), verdict: approve }), policy, NOW));
    expect(t.steps.train?.usage?.costUsd).toBeCloseTo(0.5);
    const view = toTaskView(t);
    expect(view.usage?.costUsd).toBeCloseTo(0.9);
    expect(view.usage).toMatchObject({ inputTokens: 4000, outputTokens: 400, requests: 4, toolCalls: 8 });
    expect(view.steps.map((s) => s.costUsd)).toEqual([0.25, 0.5, 0.05]);
    const done = completeTask(settled(t, usage(0.02, "claude-opus-5-5")), "summary", NOW);
    const evt = events(done).find((e) => e.type === "task.completed");
    expect(evt?.type === "task.completed" && evt.usage?.costUsd).toBeCloseTo(0.92);
    expect(evt?.type === "task.completed" && evt.usage?.requests).toBe(5);
  });

  it("keeps a failed attempt's cost on its step across the re-plan", () => {
    let t = approved(sequential);
    t = clean(
      applyStepEvent(
        t,
        { ...completed("data", "data-engineer"), type: "step.failed", error: "boom", usage: usage(0.3) } as never,
        policy,
        NOW,
      ),
    );
    expect(t.state).toBe("revising");
    t = clean(applyPlan(t, sequential, NOW));
    expect(t.steps.data).toMatchObject({ status: "pending", attempt: 2 });
    expect(t.steps.data?.usage?.costUsd).toBeCloseTo(0.3);
    expect(t.usage?.costUsd).toBeCloseTo(0.3);
  });
});

describe("the budget", () => {
  const budget: Policy = { ...policy, taskBudgetUsd: 0.5 };

  it("holds dispatch once the cost reaches it, asks once, and 'go on' allows another budget's worth", () => {
    let t = approved(sequential, budget);
    expect(t.steps.data?.status).toBe("dispatched");
    t = applyStepEvent(t, completed("data", "data-engineer", { usage: usage(0.6) }), budget, NOW) as TaskRecord;
    expect(work(t)).toEqual([]);
    const asked = events(t).find((e) => e.type === "task.budget_reached");
    expect(asked).toMatchObject({ costUsd: 0.6, budgetUsd: 0.5, raiseUsd: 0.5, ask: 1, requester: "UREQ" });
    t = clean(t);
    expect(t.steps.train?.status).toBe("pending");
    expect(toTaskView(t).waiting).toEqual({
      kind: "budget",
      message: "This task has used $0.60 of its $0.50 budget; go on?",
    });
    // A stranger cannot answer; a stale question's button is refused; a reply answers the current one.
    const stranger = applyDecision(t, decide("continue", "USTRANGER"), budget, NOW) as TaskRecord;
    expect(events(stranger).map((e) => e.type)).toEqual(["task.decision_rejected"]);
    const stale = applyDecision(t, decide("continue", "UREQ", { ask: 7 }), budget, NOW) as TaskRecord;
    expect(events(stale)[0]).toMatchObject({ type: "task.decision_rejected", decision: "continue" });
    t = applyDecision(t, decide("continue", "UAPPROVER"), budget, NOW) as TaskRecord;
    expect(events(t).map((e) => e.type)).toEqual(["task.budget_raised", "task.updated"]);
    expect(events(t)[0]).toMatchObject({ budgetUsd: 1.1, costUsd: 0.6 });
    expect(work(t)).toEqual(["train"]);
    expect(toTaskView(t).waiting).toBeUndefined();
    expect(toTaskView(t).budgetUsd).toBeCloseTo(1.1);
    // Nothing to go on with any more.
    const again = applyDecision(clean(t), decide("continue"), budget, NOW) as TaskRecord;
    expect(events(again)[0]).toMatchObject({ type: "task.decision_rejected" });
  });

  it("'stop' at the budget cancels the task and says why", () => {
    let t = approved(sequential, budget);
    t = clean(applyStepEvent(t, completed("data", "data-engineer", { usage: usage(0.75) }), budget, NOW));
    t = applyDecision(t, decide("cancel"), budget, NOW) as TaskRecord;
    expect(t.state).toBe("cancelled");
    expect(events(t)[0]).toMatchObject({
      type: "task.cancelled",
      reason: "stopped at its budget: it had used $0.75 of $0.50",
    });
  });

  it("no budget, no question; offline tasks cost nothing", () => {
    let t = approved(sequential);
    t = applyStepEvent(t, completed("data", "data-engineer"), policy, NOW) as TaskRecord;
    expect(work(t)).toEqual(["train"]);
    expect(toTaskView(t).usage).toBeUndefined();
  });
});

describe("every Claude failure of the tech lead has an answer", () => {
  it("a refusal waits for a person's retry, which runs the call again; no re-plan is spent", () => {
    const t = createTask(create, NOW);
    const failure = waitableFailure("plan", new ClaudeRefusedError("plan", 3), undefined, NOW);
    expect(failure).toMatchObject({ call: "plan", code: "claude_refused", attempts: 1 });
    expect(failure?.retryAt).toBeUndefined();
    const waiting = clean(awaitRetry(t, failure as never, usage(0.03), NOW));
    expect(waiting.state).toBe("planning");
    expect(needsPlan(waiting) && brainCallDue(waiting, NOW)).toBe(false);
    expect(toTaskView(waiting).waiting?.kind).toBe("retry");
    expect(waiting.usage?.costUsd).toBeCloseTo(0.03);
    // Approving a plan that does not exist is refused with what to do.
    const early = applyDecision(waiting, decide("approve"), policy, NOW) as TaskRecord;
    expect(events(early)[0]).toMatchObject({ type: "task.decision_rejected", reason: expect.stringMatching(/retry/) });
    const retried = applyDecision(waiting, decide("retry"), policy, NOW) as TaskRecord;
    expect(events(retried).map((e) => e.type)).toEqual(["task.retrying", "task.updated"]);
    expect(brainCallDue(retried, NOW)).toBe(true);
    expect(retried.replans).toBe(0);
    const nothing = applyDecision(clean(retried), decide("retry"), policy, NOW) as TaskRecord;
    expect(events(nothing)[0]).toMatchObject({ type: "task.decision_rejected", decision: "retry" });
  });

  it("an overloaded API is retried by itself, later and a bounded number of times, then a person is asked", () => {
    const err = new TransientBrainError("plan", "overloaded", 90_000);
    const lead = { autoRetries: 2, baseDelayMs: 60_000, maxDelayMs: 600_000 };
    const first = waitableFailure("plan", err, undefined, NOW, lead);
    expect(first?.retryAt).toBe("2026-11-25T12:01:30.000Z");
    expect(brainCallDue({ ...createTask(create, NOW), brainFailure: first }, "2026-11-25T12:01:29.000Z")).toBe(false);
    expect(brainCallDue({ ...createTask(create, NOW), brainFailure: first }, "2026-11-25T12:01:30.000Z")).toBe(true);
    const second = waitableFailure("plan", new TransientBrainError("plan", "overloaded", undefined), first, NOW, lead);
    expect(second).toMatchObject({ attempts: 2, retryAt: "2026-11-25T12:02:00.000Z" });
    const third = waitableFailure("plan", err, second, NOW, lead);
    expect(third).toMatchObject({ attempts: 3, message: "overloaded" });
    expect(third?.retryAt).toBeUndefined();
  });

  it("a request the API rejects is not waited on: the task fails with the message", () => {
    expect(waitableFailure("plan", new ClaudeRequestError("plan", 401, "bad key"), undefined, NOW)).toBeUndefined();
    expect(waitableFailure("plan", new Error("a bug"), undefined, NOW)).toBeUndefined();
  });
});

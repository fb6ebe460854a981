import {
  type Plan,
  type StepResult,
  type TaskCreate,
  type TaskDecide,
  type TaskEvent,
  type TaskRecord,
  toTaskView,
} from "@mllead/contracts";
import { describe, expect, it } from "vitest";
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

const handoff = (id: string, role: Plan["steps"][number]["role"], dependsOn: string[], changesCode = false) => ({
  id,
  role,
  title: `${role} step`,
  objective: "o",
  context: "c",
  requirements: ["r"],
  acceptanceCriteria: [{ id: "ac1", text: "a" }],

  params: {},
  nextHandoff: { to: "tech-lead" as const, reason: "done" },
  dependsOn,
  changesCode,
  usesGpu: role === "ml-engineer",
});

const plan: Plan = {
  summary: "data, train, analyse, review",
  scope: "multi-agent",
  risks: [],
  brain: "offline",
  steps: [
    handoff("data", "data-engineer", [], true),
    handoff("train", "ml-engineer", ["data"], true),
    handoff("analyze", "analyst", ["train"]),
    handoff("review", "code-reviewer", ["data", "train", "analyze"]),
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

function decide(decision: TaskDecide["decision"], userId = "UREQ", extra: Partial<TaskDecide> = {}): TaskDecide {
  return {
    v: 1,
    taskId: "t1",
    decisionId: `d-${decision}-${userId}-${extra.revision ?? ""}`,
    decision,
    userId,
    via: "button",
    decidedAt: NOW,
    ...extra,
  };
}

const ok = (summary: string, extra: Partial<StepResult> = {}): StepResult => ({
  status: "succeeded",
  summary,
  artifacts: [],
  metrics: {},
  filesChanged: [],
  criteria: [],
  ...extra,
});

function completed(stepId: string, role: Plan["steps"][number]["role"], attempt: number, result: StepResult) {
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
    // Every step here has the one criterion `ac1`; a result that says nothing about it proves it met.
    result: result.criteria.length
      ? result
      : { ...result, criteria: [{ id: "ac1", criterion: "a", met: true, evidence: "checked" }] },
  };
}

/** The types of what a task's outbox would publish (events) and where work goes. */
function outbox(t: TaskRecord): string[] {
  return t.outbox.map((m) =>
    m.subject.startsWith("mllead.work") ? `work:${(m.payload as { stepId: string }).stepId}` : (m.payload as TaskEvent).type,
  );
}

function planned(): TaskRecord {
  const t = createTask(create, NOW);
  return { ...applyPlan(t, plan, NOW), outbox: [] };
}

describe("tech-lead orchestration", () => {
  it("creates a task in planning and shows the plan for approval", () => {
    const t = createTask(create, NOW);
    expect(t.state).toBe("planning");
    expect(needsPlan(t)).toBe(true);
    const p = applyPlan(t, plan, NOW);
    expect(p.state).toBe("awaiting_approval");
    expect(p.revision).toBe(1);
    expect(outbox(p)).toEqual(["task.updated", "task.planned", "task.updated"]);
    // Event ids are unique and come from the task's own counter.
    expect(new Set(p.outbox.map((m) => m.msgId)).size).toBe(3);
  });

  it("on approval dispatches only the steps whose dependencies are done", () => {
    const t = applyDecision(planned(), decide("approve"), policy, NOW);
    expect(t?.state).toBe("executing");
    expect(outbox(t as TaskRecord)).toEqual(["task.approved", "work:data", "task.updated"]);
  });

  it("refuses a decision from someone who is neither requester nor approver, and accepts an approver", () => {
    const rejected = applyDecision(planned(), decide("approve", "USTRANGER"), policy, NOW) as TaskRecord;
    expect(rejected.state).toBe("awaiting_approval");
    expect(outbox(rejected)).toEqual(["task.decision_rejected"]);
    const approved = applyDecision(planned(), decide("approve", "UAPPROVER"), policy, NOW) as TaskRecord;
    expect(approved.state).toBe("executing");
  });

  it("applies a redelivered decision once", () => {
    const once = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    expect(applyDecision({ ...once, outbox: [] }, decide("approve"), policy, NOW)).toBeNull();
  });

  it("refuses a click on a stale plan revision", () => {
    const t = applyDecision(planned(), decide("approve", "UREQ", { revision: 0 }), policy, NOW) as TaskRecord;
    expect(t.state).toBe("awaiting_approval");
    const evt = t.outbox[0]?.payload as Extract<TaskEvent, { type: "task.decision_rejected" }>;
    expect(evt.reason).toMatch(/revision 0.*revision 1/);
  });

  it("asks for a revision with the feedback, and needs words to revise", () => {
    const none = applyDecision(planned(), decide("request_changes"), policy, NOW) as TaskRecord;
    expect(none.state).toBe("awaiting_approval");
    const t = applyDecision(
      planned(),
      decide("request_changes", "UREQ", { feedback: "use 20 epochs" }),
      policy,
      NOW,
    ) as TaskRecord;
    expect(t.state).toBe("revising");
    expect(needsPlan(t)).toBe(true);
    expect(t.feedback.map((f) => f.text)).toEqual(["use 20 epochs"]);
    const revised = applyPlan(t, plan, NOW);
    expect(revised.revision).toBe(2);
    const evt = revised.outbox.find((m) => (m.payload as TaskEvent).type === "task.planned")?.payload as Extract<
      TaskEvent,
      { type: "task.planned" }
    >;
    expect(evt.feedback).toBe("use 20 epochs");
  });

  it("runs steps in dependency order, reviews last, and closes with a summary", () => {
    let t = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    t = applyStepEvent(t, completed("data", "data-engineer", 1, ok("data ready")), policy, NOW) as TaskRecord;
    expect(
      t.outbox.filter((m) => m.subject.startsWith("mllead.work")).map((m) => (m.payload as { stepId: string }).stepId),
    ).toEqual(["data", "train"]);
    t = applyStepEvent(
      t,
      completed("train", "ml-engineer", 1, ok("trained", { metrics: { auc: 0.8 } })),
      policy,
      NOW,
    ) as TaskRecord;
    expect(t.state).toBe("executing");
    t = { ...(applyStepEvent(t, completed("analyze", "analyst", 1, ok("report")), policy, NOW) as TaskRecord), outbox: [] };
    expect(t.state).toBe("reviewing");
    const verdict = { decision: "approve" as const, summary: "clean", findings: [], checks: [] };
    t = applyStepEvent(t, completed("review", "code-reviewer", 1, ok("approved", { verdict })), policy, NOW) as TaskRecord;
    expect(needsSummary(t)).toBe(true);
    const done = completeTask(t, "all good", NOW);
    expect(done.state).toBe("done");
    const closing = done.outbox.find((m) => (m.payload as TaskEvent).type === "task.completed")?.payload as Extract<
      TaskEvent,
      { type: "task.completed" }
    >;
    expect(closing.metrics).toEqual({ auc: 0.8 });
    expect(closing.verdict?.decision).toBe("approve");
  });

  it("the review step receives every code step's result", () => {
    let t = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    t = applyStepEvent(t, completed("data", "data-engineer", 1, ok("d")), policy, NOW) as TaskRecord;
    t = applyStepEvent(t, completed("train", "ml-engineer", 1, ok("m")), policy, NOW) as TaskRecord;
    t = { ...(applyStepEvent(t, completed("analyze", "analyst", 1, ok("a")), policy, NOW) as TaskRecord) };
    const work = t.outbox.find((m) => m.subject === "mllead.work.step.code-reviewer")?.payload as {
      reviewScope: { stepId: string }[];
    };
    expect(work.reviewScope.map((r) => r.stepId)).toEqual(["data", "train", "analyze"]);
  });

  it("sends the reviewer's findings back to the owning step, re-runs what depends on it, then fails after the allowed rounds", () => {
    let t = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    for (const [id, role] of [
      ["data", "data-engineer"],
      ["train", "ml-engineer"],
      ["analyze", "analyst"],
    ] as const) {
      t = applyStepEvent(t, completed(id, role, 1, ok(id)), policy, NOW) as TaskRecord;
    }
    t = { ...t, outbox: [] };
    const finding = {
      severity: "major" as const,
      category: "reproducibility" as const,
      message: "no seed",
      ownerStepId: "train",
    };
    const verdict = { decision: "request_changes" as const, summary: "fix seeds", findings: [finding], checks: [] };
    t = applyStepEvent(t, completed("review", "code-reviewer", 1, ok("changes", { verdict })), policy, NOW) as TaskRecord;
    expect(t.state).toBe("fixing");
    expect(t.steps.data?.attempt).toBe(1);
    expect(t.steps.train).toMatchObject({ attempt: 2, status: "dispatched", findings: [finding] });
    expect(t.steps.analyze).toMatchObject({ attempt: 2, status: "pending" });
    // A late report from the old attempt changes nothing.
    expect(applyStepEvent(t, completed("train", "ml-engineer", 1, ok("old")), policy, NOW)).toBeNull();
    t = applyStepEvent(t, completed("train", "ml-engineer", 2, ok("seeded")), policy, NOW) as TaskRecord;
    t = applyStepEvent(t, completed("analyze", "analyst", 2, ok("a2")), policy, NOW) as TaskRecord;
    expect(t.state).toBe("reviewing");
    t = applyStepEvent(t, completed("review", "code-reviewer", 2, ok("still", { verdict })), policy, NOW) as TaskRecord;
    expect(t.state).toBe("failed");
    expect(t.failure).toMatch(/after 1 fix round/);
  });

  it("a step that reports an acceptance criterion unmet, or leaves one unanswered, is a failed step: the tech lead re-plans", () => {
    let t = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    const unmet = ok("trained, but the loss went up");
    unmet.criteria = [{ id: "ac1", criterion: "a", met: false, evidence: "final loss 0.9 > first epoch 0.7" }];
    t = applyStepEvent(t, completed("data", "data-engineer", 1, unmet), policy, NOW) as TaskRecord;
    expect(t.state).toBe("revising");
    expect(t.steps.data).toMatchObject({ status: "failed" });
    expect(t.steps.data?.error).toContain('ac1 "a" (final loss 0.9 > first epoch 0.7)');
    expect(outbox(t)).toContain("task.replanning");
    expect(outbox(t).filter((o) => o.startsWith("work:"))).toEqual(["work:data"]);

    // A result with evidence left empty proves nothing either.
    let u = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    const empty = ok("done");
    empty.criteria = [{ id: "ac1", criterion: "a", met: true, evidence: "  " }];
    u = applyStepEvent(u, completed("data", "data-engineer", 1, empty), policy, NOW) as TaskRecord;
    expect(u.steps.data?.error).toContain("no evidence given");
  });

  it("a failed step stops the work and re-plans; unchanged finished steps keep their results; a second failure fails the task", () => {
    const failed = (stepId: string, role: Plan["steps"][number]["role"], attempt: number) => ({
      v: 1 as const,
      eventId: `f-${stepId}-${attempt}`,
      taskId: "t1",
      at: NOW,
      type: "step.failed" as const,
      stepId,
      role,
      attempt,
      title: stepId,
      error: "CUDA out of memory",
    });
    let t = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    t = applyStepEvent(t, completed("data", "data-engineer", 1, ok("data ready")), policy, NOW) as TaskRecord;
    const stopped = applyStepEvent(t, failed("train", "ml-engineer", 1), policy, NOW) as TaskRecord;
    expect(outbox(stopped).slice(-2)).toEqual(["task.replanning", "task.updated"]);
    t = { ...stopped, outbox: [] };
    expect(t.state).toBe("revising");
    expect(needsPlan(t)).toBe(true);
    expect(t.feedback.at(-1)?.text).toMatch(/ml-engineer step.*failed: CUDA out of memory/);

    // The new plan changes the training step only.
    const trainStep = plan.steps[1] as Plan["steps"][number];
    const revised: Plan = {
      ...plan,
      steps: plan.steps.map((s) => (s.id === "train" ? { ...trainStep, requirements: ["batch size 64"] } : s)),
    };
    const again = applyPlan(t, revised, NOW);
    expect(again.state).toBe("awaiting_approval");
    expect(again.revision).toBe(2);
    expect(again.steps.data).toMatchObject({ status: "completed", attempt: 1 });
    expect(again.steps.train).toMatchObject({ status: "pending", attempt: 2 });
    // Approved again: only the changed step runs (with a new attempt, so its message is not a duplicate).
    const running = applyDecision(
      { ...again, outbox: [] },
      decide("approve", "UREQ", { decisionId: "d2" }),
      policy,
      NOW,
    ) as TaskRecord;
    const work = running.outbox.filter((m) => m.subject.startsWith("mllead.work")).map((m) => m.msgId);
    expect(work).toEqual(["step.t1.train.2"]);

    const failedTwice = applyStepEvent({ ...running, outbox: [] }, failed("train", "ml-engineer", 2), policy, NOW) as TaskRecord;
    expect(failedTwice.state).toBe("failed");
    expect(failedTwice.failure).toContain("CUDA out of memory");
    expect(failedTwice.steps.analyze?.status).toBe("skipped");
  });

  it("with no re-plans allowed, a failed step fails the task at once", () => {
    let t = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    t = applyStepEvent(
      t,
      {
        v: 1,
        eventId: "f",
        taskId: "t1",
        at: NOW,
        type: "step.failed",
        stepId: "data",
        role: "data-engineer",
        attempt: 1,
        title: "data",
        error: "table not found",
      },
      { ...policy, maxReplans: 0 },
      NOW,
    ) as TaskRecord;
    expect(t.state).toBe("failed");
    expect(t.failure).toContain("table not found");
    expect(t.steps.train?.status).toBe("skipped");
  });

  it("cancel stops a running task; later reports are ignored", () => {
    let t = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    t = applyDecision(t, decide("cancel"), policy, NOW) as TaskRecord;
    expect(t.state).toBe("cancelled");
    expect(applyStepEvent(t, completed("data", "data-engineer", 1, ok("late")), policy, NOW)).toBeNull();
  });

  it("keeps the process sandbox's warning from a step's start, and shows it on the task's view", () => {
    const approved = applyDecision(planned(), decide("approve"), policy, NOW) as TaskRecord;
    const started = (sandbox: "process" | "bubblewrap", warning?: string) => ({
      v: 1 as const,
      eventId: `s-${sandbox}`,
      taskId: "t1",
      at: NOW,
      type: "step.started" as const,
      stepId: "data",
      role: "data-engineer" as const,
      attempt: 1,
      title: "data",
      sandbox,
      ...(warning ? { warning } : {}),
    });
    const t = applyStepEvent(approved, started("process", "no bubblewrap here"), policy, NOW) as TaskRecord;
    expect(t.sandbox).toEqual({ mode: "process", warning: "no bubblewrap here", stepId: "data", at: NOW });
    const updated = t.outbox.at(-1)?.payload as Extract<TaskEvent, { type: "task.updated" }> | undefined;
    expect(updated?.view.sandboxWarning).toBe("no bubblewrap here");
    const confined = applyStepEvent(approved, started("bubblewrap"), policy, NOW) as TaskRecord;
    expect(toTaskView(confined).sandboxWarning).toBeUndefined();
  });
});

import type { Brain } from "@mllead/brain";
import { Bus } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import {
  BUCKETS,
  CONSUMERS,
  emitEvent,
  everyResource,
  type Plan,
  REVIEW_CRITERIA,
  STREAMS,
  StepWork,
  SUBJECTS,
  TaskCreate,
  TaskDecide,
  TaskEvent,
  TaskRecord,
} from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { buildTechLead, type TechLead } from "../../services/tech-lead/src/app.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

const step = (id: string, role: Plan["steps"][number]["role"], dependsOn: string[], changesCode = false) => ({
  id,
  role,
  title: `${id} step`,
  objective: "o",
  context: "c",
  requirements: ["r"],
  // A review's criteria are the review's own (the plan rules).
  acceptanceCriteria: role === "code-reviewer" ? [...REVIEW_CRITERIA] : [{ id: "ac1", text: "a" }],

  params: {},
  nextHandoff: { to: "tech-lead" as const, reason: "x" },
  dependsOn,
  changesCode,
  usesGpu: false,
});

/** A brain with a fixed two-step plan: enough to drive the orchestrator through NATS. */
const brain: Brain = {
  kind: "offline",
  plan: async (req) => ({
    summary: req.previous ? `revised for: ${req.previous.feedback.join("; ")}` : "prepare data, then review",
    scope: "multi-agent",
    risks: [{ risk: "leakage", mitigation: "split first" }],
    brain: "offline",
    steps: [step("data", "data-engineer", [], true), step("review", "code-reviewer", ["data"])],
  }),
  runStep: async () => {
    throw new Error("not used by the tech lead");
  },
  summarize: async (req) => `Done: ${req.results.map((r) => r.stepId).join(", ")}`,
  learn: async () => [],
  lessonFromFinding: async () => null,
};

const create = (taskId: string): TaskCreate => ({
  v: 1,
  taskId,
  text: "clean the churn table",
  requester: { userId: "UREQ" },
  slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" },
  requestedAt: new Date().toISOString(),
});

const decide = (taskId: string, decision: TaskDecide["decision"], id: string, extra: Partial<TaskDecide> = {}): TaskDecide => ({
  v: 1,
  taskId,
  decisionId: id,
  decision,
  userId: "UREQ",
  via: "reply",
  decidedAt: new Date().toISOString(),
  ...extra,
});

async function setup(url: string, registry?: Registry): Promise<{ bus: Bus; lead: TechLead }> {
  const bus = await Bus.connect({ url, name: "tech-lead-test", log });
  await bus.setUp(
    everyResource([
      CONSUMERS.techLeadCommands,
      CONSUMERS.techLeadResults,
      CONSUMERS.step("data-engineer"),
      CONSUMERS.step("code-reviewer"),
    ]),
  );
  const lead = await buildTechLead({
    bus,
    brain,
    log,
    policy: { approvers: [], maxReviewRounds: 1, maxReplans: 1 },
    ...(registry ? { registry } : {}),
  });
  await lead.start();
  return { bus, lead };
}

function completedEvent(taskId: string, stepId: string, role: "data-engineer" | "code-reviewer", extra: object = {}): TaskEvent {
  return TaskEvent.parse({
    v: 1,
    eventId: `done-${taskId}-${stepId}`,
    taskId,
    at: new Date().toISOString(),
    type: "step.completed",
    stepId,
    role,
    attempt: 1,
    title: stepId,
    // Each step's one criterion answered with evidence: the tech lead gates completion on it.
    result: {
      status: "succeeded",
      summary: `${stepId} ok`,
      criteria: (role === "code-reviewer" ? [...REVIEW_CRITERIA] : [{ id: "ac1", text: "a" }]).map((c) => ({
        id: c.id,
        criterion: c.text,
        met: true,
        evidence: "checked",
      })),
      ...extra,
    },
  });
}

describe("tech-lead over NATS", () => {
  it("plans, waits for approval, dispatches in order, and closes with a summary", async () => {
    await using nats = await startNatsServer();
    const registry = new Registry();
    const { bus, lead } = await setup(nats.url, registry);
    const events = await collectEvents(bus, "t1");

    await bus.publish(SUBJECTS.taskCreate, TaskCreate, create("t1"), "slack-evt-1");
    await waitFor(() => events.some((e) => e.type === "task.planned"));
    expect((await lead.store.get("t1"))?.state).toBe("awaiting_approval");

    // Nothing is dispatched before a person approves.
    expect((await bus.streamState(STREAMS.steps.name)).messages).toBe(0);
    await bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("t1", "approve", "a1"), "a1");
    await waitFor(async () => (await bus.streamState(STREAMS.steps.name)).messages === 1);
    const work = await (await rawNats(bus).js.consumers.get(STREAMS.steps.name, "step-data-engineer")).next();
    expect(StepWork.parse(work?.json()).stepId).toBe("data");
    work?.ack();

    // The data step's Claude loop cost 25 cents, the review's 10: Prometheus counts both once, with their tokens.
    const usage = (costUsd: number, inputTokens: number) => ({ usage: { inputTokens, outputTokens: 100, requests: 2, costUsd } });
    await emitEvent(bus, completedEvent("t1", "data", "data-engineer", usage(0.25, 1000)));
    await waitFor(async () => (await lead.store.get("t1"))?.state === "reviewing");
    const verdict = { decision: "approve", summary: "fine", findings: [], checks: [] };
    await emitEvent(bus, completedEvent("t1", "review", "code-reviewer", { verdict, ...usage(0.1, 500) }));
    await waitFor(() => events.some((e) => e.type === "task.completed"));
    const done = events.find((e) => e.type === "task.completed");
    expect(done?.type === "task.completed" && done.summary).toBe("Done: data, review");
    expect((await lead.store.get("t1"))?.state).toBe("done");

    // Every event was published exactly once.
    const ids = events.map((e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    // Operators see the lifecycle in Prometheus. A transition is counted once its write returns, which is after
    // the write's outbox published task.completed: the counter is waited for, not read at once.
    const doneCounted = /mllead_task_transitions_total\{state="done"\} 1/;
    await waitFor(async () => doneCounted.test(await registry.metrics()), 5000, "the done transition counted");
    const metrics = await registry.metrics();
    expect(metrics).toMatch(doneCounted);
    expect(metrics).toMatch(/mllead_plan_duration_seconds_count\{brain="offline",outcome="ok"\} 1/);
    expect(metrics).toMatch(/mllead_claude_cost_usd_total 0\.35/);
    expect(metrics).toMatch(/mllead_claude_tokens_total\{kind="input"\} 1500/);
    expect(metrics).toMatch(/mllead_claude_tokens_total\{kind="output"\} 200/);
    await lead.stop();
    await bus.close();
  });

  it("revises the plan on a change request and refuses a stale approval", async () => {
    await using nats = await startNatsServer();
    const { bus, lead } = await setup(nats.url);
    const events = await collectEvents(bus, "t2");
    await bus.publish(SUBJECTS.taskCreate, TaskCreate, create("t2"), "slack-evt-2");
    await waitFor(() => events.some((e) => e.type === "task.planned"));
    await bus.publish(
      SUBJECTS.taskDecide,
      TaskDecide,
      decide("t2", "request_changes", "c1", { feedback: "add schema checks" }),
      "c1",
    );
    await waitFor(() => events.filter((e) => e.type === "task.planned").length === 2);
    const revised = events.filter((e) => e.type === "task.planned")[1];
    expect(revised?.type === "task.planned" && revised.plan.summary).toBe("revised for: add schema checks");
    await bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("t2", "approve", "old", { revision: 1 }), "old");
    await waitFor(() => events.some((e) => e.type === "task.decision_rejected"));
    expect((await lead.store.get("t2"))?.state).toBe("awaiting_approval");
    await lead.stop();
    await bus.close();
  });

  it("after a crash, publishes the stored outbox once and finishes interrupted planning", async () => {
    await using nats = await startNatsServer();
    const bus = await Bus.connect({ url: nats.url, name: "seed", log });
    await bus.setUp(everyResource());
    const kv = await bus.kv(BUCKETS.tasks, TaskRecord);
    const now = new Date().toISOString();
    // A task written by a tech lead that died before publishing its outbox and before planning.
    const updated = {
      v: 1,
      eventId: "t3.1.task.updated",
      taskId: "t3",
      at: now,
      type: "task.updated",
      view: {
        id: "t3",
        text: "x",
        state: "planning",
        revision: 0,
        requester: "UREQ",
        slack: create("t3").slack,
        steps: [],
        updatedAt: now,
      },
    };
    await kv.create("t3", {
      v: 1,
      id: "t3",
      text: "clean the churn table",
      requester: { userId: "UREQ" },
      slack: create("t3").slack,
      state: "planning",
      revision: 0,
      createdAt: now,
      updatedAt: now,
      eventSeq: 1,
      outbox: [{ subject: "mllead.evt.task.t3.task.updated", msgId: "t3.1.task.updated", payload: updated }],
    });
    // The same event had already gone out once before the crash.
    await bus.publishRaw("mllead.evt.task.t3.task.updated", updated, "t3.1.task.updated");
    const events = await collectEvents(bus, "t3");
    const { lead } = await setup(nats.url);
    await waitFor(() => events.some((e) => e.type === "task.planned"));
    expect(events.filter((e) => e.eventId === "t3.1.task.updated")).toHaveLength(1);
    expect((await lead.store.get("t3"))?.outbox).toEqual([]);
    await lead.stop();
    await bus.close();
  });

  it("stops and re-plans when a step fails, then runs the new plan once a person approves it", async () => {
    await using nats = await startNatsServer();
    const { bus, lead } = await setup(nats.url);
    const events = await collectEvents(bus, "t5");
    await bus.publish(SUBJECTS.taskCreate, TaskCreate, create("t5"), "slack-evt-5");
    await waitFor(() => events.some((e) => e.type === "task.planned"));
    await bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("t5", "approve", "a5"), "a5");
    await waitFor(async () => (await lead.store.get("t5"))?.steps.data?.status === "dispatched");
    await emitEvent(
      bus,
      TaskEvent.parse({
        v: 1,
        eventId: "fail-t5-data",
        taskId: "t5",
        at: new Date().toISOString(),
        type: "step.failed",
        stepId: "data",
        role: "data-engineer",
        attempt: 1,
        title: "data",
        error: "the table crm.customers does not exist",
      }),
    );
    await waitFor(() => events.filter((e) => e.type === "task.planned").length === 2, 20_000, "the re-plan");
    const replanning = events.find((e) => e.type === "task.replanning");
    expect(replanning?.type === "task.replanning" && replanning.reason).toContain("crm.customers does not exist");
    const revised = events.filter((e) => e.type === "task.planned")[1];
    expect(revised?.type === "task.planned" && revised.plan.summary).toContain("crm.customers does not exist");
    expect((await lead.store.get("t5"))?.state).toBe("awaiting_approval");
    // Approved again, the failed step runs as attempt 2.
    await bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("t5", "approve", "a5b"), "a5b");
    await waitFor(async () => (await lead.store.get("t5"))?.steps.data?.status === "dispatched");
    expect((await lead.store.get("t5"))?.steps.data?.attempt).toBe(2);
    await lead.stop();
    await bus.close();
  });

  it("keeps working after a malformed command", async () => {
    await using nats = await startNatsServer();
    const { bus, lead } = await setup(nats.url);
    await rawNats(bus).js.publish(SUBJECTS.taskCreate, "this is not json");
    await rawNats(bus).js.publish(SUBJECTS.taskDecide, JSON.stringify({ v: 1, taskId: "nope" }));
    const events = await collectEvents(bus, "t4");
    await bus.publish(SUBJECTS.taskCreate, TaskCreate, create("t4"), "slack-evt-4");
    await waitFor(() => events.some((e) => e.type === "task.planned"));
    // Every command leaves the work queue: the bad ones set aside, the good one acknowledged once handled
    // (its ack follows the plan's events, so it is waited for rather than read at once).
    await waitFor(async () => (await bus.streamState(STREAMS.commands.name)).messages === 0, 10_000, "an empty queue");
    await lead.stop();
    await bus.close();
  });
});

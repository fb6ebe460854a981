import { createOfflineBrain, lessonRequirement } from "@mllead/brain";
import { Bus } from "@mllead/bus";
import {
  CONSUMERS,
  type EventOf,
  emitEvent,
  everyResource,
  LessonsQuery,
  LessonsReply,
  ROLES,
  type Role,
  SUBJECTS,
  TaskCreate,
  TaskDecide,
  TaskEvent,
} from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { renderPlan } from "../../services/slack-gateway/src/render/plan.js";
import { answerLessons } from "../../services/slack-gateway/src/surfaces/lessons-command.js";
import { buildTechLead, type TechLead } from "../../services/tech-lead/src/app.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");
const TEXT = "train a churn model on the customers table";

async function startLead(url: string): Promise<{ bus: Bus; lead: TechLead; [Symbol.asyncDispose](): Promise<void> }> {
  const bus = await Bus.connect({ url, name: "tech-lead-lessons", log });
  await bus.setUp(everyResource([CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults, ...ROLES.map((r) => CONSUMERS.step(r))]));
  // The real offline planner: what it does with a lesson is what a person sees.
  const lead = await buildTechLead({
    bus,
    brain: createOfflineBrain(),
    log,
    policy: { approvers: [], maxReviewRounds: 2, maxReplans: 1 },
  });
  await lead.start();
  return {
    bus,
    lead,
    [Symbol.asyncDispose]: async () => {
      await lead.stop();
      await bus.close();
    },
  };
}

const create = (taskId: string, channel: string): TaskCreate => ({
  v: 1,
  taskId,
  text: TEXT,
  requester: { userId: "UREQ" },
  slack: { channel, threadTs: `${taskId}.1`, messageTs: `${taskId}.1` },
  requestedAt: new Date().toISOString(),
});

const decide = (taskId: string, decision: TaskDecide["decision"], id: string, feedback?: string): TaskDecide => ({
  v: 1,
  taskId,
  decisionId: id,
  decision,
  userId: "UREQ",
  via: "reply",
  decidedAt: new Date().toISOString(),
  ...(feedback ? { feedback } : {}),
});

type Planned = EventOf<"task.planned">;

/** Starts a task and returns its plan event once the thread would show it (the `n`th plan of the task). */
async function plan(bus: Bus, taskId: string, channel: string): Promise<{ events: TaskEvent[]; planned: Planned }> {
  const events = await collectEvents(bus, taskId);
  await bus.publish(SUBJECTS.taskCreate, TaskCreate, create(taskId, channel), `create-${taskId}`);
  return { events, planned: await nthPlan(events, 1) };
}

async function nthPlan(events: TaskEvent[], n: number): Promise<Planned> {
  const plans = () => events.filter((e): e is Planned => e.type === "task.planned");
  await waitFor(() => plans().length >= n, 20_000, `plan ${n}`);
  return plans()[n - 1] as Planned;
}

const trainOf = (p: Planned) => p.plan.steps.find((s) => s.role === "ml-engineer");

function lessons(bus: Bus, channel: string, forget?: string): Promise<LessonsReply> {
  return bus.request(SUBJECTS.lessonsQuery, LessonsQuery, LessonsReply, { v: 1, channel, ...(forget ? { forget } : {}) });
}

/** A step's report with every acceptance criterion met (the tech lead gates completion on them). */
async function complete(lead: TechLead, bus: Bus, taskId: string, stepId: string, extra: object = {}): Promise<void> {
  const task = await lead.store.get(taskId);
  const step = task?.plan?.steps.find((s) => s.id === stepId);
  if (!step) throw new Error(`no step ${stepId}`);
  await emitEvent(
    bus,
    TaskEvent.parse({
      v: 1,
      eventId: `done-${taskId}-${stepId}`,
      taskId,
      at: new Date().toISOString(),
      type: "step.completed",
      stepId,
      role: step.role as Role,
      attempt: 1,
      title: step.title,
      result: {
        status: "succeeded",
        summary: `${stepId} ok`,
        criteria: step.acceptanceCriteria.map((c) => ({ id: c.id, criterion: c.text, met: true, evidence: "checked" })),
        ...extra,
      },
    }),
  );
}

async function dispatched(lead: TechLead, taskId: string, stepId: string): Promise<void> {
  await waitFor(
    async () => (await lead.store.get(taskId))?.steps[stepId]?.status === "dispatched",
    20_000,
    `${stepId} dispatched`,
  );
}

describe("tech lead: lessons per channel", () => {
  it("a change request teaches the channel: the next plan there follows it and says so; another channel's does not; forget stops it", async () => {
    await using nats = await startNatsServer();
    await using tl = await startLead(nats.url);
    const { bus } = tl;

    // Task 1 in C: the plan trains for the default 10 epochs; the person asks for 20.
    const t1 = await plan(bus, "tLes1", "C1");
    expect(trainOf(t1.planned)?.params.epochs).toBe(10);
    await bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("tLes1", "request_changes", "ch1", "use 20 epochs"), "ch1");
    const revised = await nthPlan(t1.events, 2);
    expect(trainOf(revised)?.params.epochs).toBe(20);
    // The revision answers the request itself; the lesson is for the next tasks.
    expect(revised.plan.lessonsApplied).toBeUndefined();

    const recorded = await lessons(bus, "C1");
    expect(recorded.ok && recorded.lessons).toMatchObject([
      {
        id: "L1",
        channel: "C1",
        rule: "Train for 20 epochs unless told otherwise",
        setting: { name: "epochs", value: 20 },
        source: { kind: "change_request", taskId: "tLes1", text: "use 20 epochs" },
        by: "UREQ",
      },
    ]);

    // Task 2 in C follows it, and the plan in the thread says which lesson it applied.
    const t2 = await plan(bus, "tLes2", "C1");
    expect(trainOf(t2.planned)?.params.epochs).toBe(20);
    expect(t2.planned.plan.lessonsApplied).toEqual([{ id: "L1", text: "Train for 20 epochs unless told otherwise" }]);
    expect(JSON.stringify(renderPlan(t2.planned).blocks)).toContain(
      "Lessons applied: `L1` Train for 20 epochs unless told otherwise",
    );

    // A task in D does not.
    const t3 = await plan(bus, "tLes3", "D1");
    expect(trainOf(t3.planned)?.params.epochs).toBe(10);
    expect(t3.planned.plan.lessonsApplied).toBeUndefined();
    expect(JSON.stringify(renderPlan(t3.planned).blocks)).not.toContain("Lessons applied");

    // `/mllead lessons` through the gateway's command, over NATS: numbered, with where each came from.
    const deps = { bus, log };
    const listed = await answerLessons([], deps, { channel: "C1", userId: "UOTHER" });
    expect(listed).toContain("1. `L1` *Train for 20 epochs unless told otherwise* — from <@UREQ>'s change request on `tLes1`");
    expect(listed).toContain("“use 20 epochs”");
    expect(await answerLessons([], deps, { channel: "D1" })).toContain("none yet in this channel");

    // Forgetting is per channel: D cannot forget C's lesson; anyone in C can.
    expect(await answerLessons(["forget", "1"], deps, { channel: "D1", userId: "UOTHER" })).toContain(
      "this channel has no lesson 1",
    );
    const forgot = await answerLessons(["forget", "L1"], deps, { channel: "C1", userId: "UOTHER" });
    expect(forgot).toContain("Forgot `L1`");
    expect(forgot).toContain("none yet in this channel");
    const after = await lessons(bus, "C1");
    expect(after.ok && after.lessons).toEqual([]);

    // Task 3 in C no longer applies it.
    const t4 = await plan(bus, "tLes4", "C1");
    expect(trainOf(t4.planned)?.params.epochs).toBe(10);
    expect(t4.planned.plan.lessonsApplied).toBeUndefined();
  });

  it("a reviewer's finding that leads to a fix round teaches the channel, and the next plan carries it to the step it concerns", async () => {
    await using nats = await startNatsServer();
    await using tl = await startLead(nats.url);
    const { bus, lead } = tl;

    const t1 = await plan(bus, "tRev1", "C1");
    expect(t1.planned.plan.steps.map((s) => s.id)).toEqual(["data", "train", "analyze", "review"]);
    await bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("tRev1", "approve", "ap1"), "ap1");
    for (const id of ["data", "train", "analyze"]) {
      await dispatched(lead, "tRev1", id);
      await complete(lead, bus, "tRev1", id);
    }
    await dispatched(lead, "tRev1", "review");
    const finding = {
      severity: "blocker",
      category: "data_leakage",
      file: "jobs/train.py",
      line: 42,
      message: "StandardScaler is fit on the full table before the split; fit it on the train split only.",
      ownerStepId: "train",
    };
    const nit = { severity: "nit", category: "documentation", message: "A docstring could be longer.", ownerStepId: "train" };
    await complete(lead, bus, "tRev1", "review", {
      verdict: { decision: "request_changes", summary: "leakage", findings: [finding, nit], checks: [] },
    });
    await waitFor(async () => (await lead.store.get("tRev1"))?.state === "fixing", 20_000, "the fix round");

    await waitFor(async () => {
      const r = await lessons(bus, "C1");
      return r.ok && r.lessons.length > 0;
    });
    const reply = await lessons(bus, "C1");
    // One lesson: the blocker's; a nit teaches nothing.
    expect(reply.ok && reply.lessons).toMatchObject([
      {
        id: "L1",
        rule: "Fit the scaler on the train split only",
        roles: ["ml-engineer"],
        by: "code-reviewer",
        source: { kind: "review_finding", taskId: "tRev1", severity: "blocker", category: "data_leakage", stepId: "train" },
      },
    ]);
    expect(await answerLessons([], { bus, log }, { channel: "C1" })).toContain(
      "from the code reviewer's blocker data leakage finding in `train` on `tRev1`",
    );

    // The next plan in the channel: a requirement of the training step, and listed as applied.
    const t2 = await plan(bus, "tRev2", "C1");
    const lesson = { id: "L1", rule: "Fit the scaler on the train split only" };
    expect(trainOf(t2.planned)?.requirements).toContain(lessonRequirement(lesson));
    expect(t2.planned.plan.steps.find((s) => s.id === "data")?.requirements).not.toContain(lessonRequirement(lesson));
    expect(t2.planned.plan.lessonsApplied).toEqual([{ id: "L1", text: lesson.rule }]);
  });
});

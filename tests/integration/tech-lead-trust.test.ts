import type { Brain, PlanRequest } from "@mllead/brain";
import { Bus, SET_ASIDE_HEADERS } from "@mllead/bus";
import { rawKv, rawNats } from "@mllead/bus/testing";
import {
  BUCKETS,
  CONSUMERS,
  emitEvent,
  everyResource,
  type Plan,
  REVIEW_CRITERIA,
  STREAMS,
  StatusQuery,
  StatusReply,
  SUBJECTS,
  TaskCreate,
  TaskDecide,
  TaskEvent,
} from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { renderStatusReply } from "../../services/slack-gateway/src/render/status.js";
import { buildTechLead, type TechLead } from "../../services/tech-lead/src/app.js";
import { startGatewayHarness } from "../helpers/gateway.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

const step = (id: string, role: Plan["steps"][number]["role"], dependsOn: string[], pad = "") => ({
  id,
  role,
  title: `${id} step`,
  objective: pad ? pad.repeat(3).slice(0, 3000) : "o",
  context: pad ? pad.repeat(3).slice(0, 3000) : "c",
  requirements: pad ? Array.from({ length: 20 }, (_, i) => `${i}${pad}`) : ["r"],
  // A review's criteria are the review's own (the plan rules).
  acceptanceCriteria:
    role === "code-reviewer"
      ? [...REVIEW_CRITERIA]
      : pad
        ? Array.from({ length: 20 }, (_, i) => ({ id: `ac${i + 1}`, text: `${i}${pad}` }))
        : [{ id: "ac1", text: "a" }],
  params: {},
  nextHandoff: { to: "tech-lead" as const, reason: "x" },
  dependsOn,
  changesCode: role !== "code-reviewer",
  usesGpu: false,
});

/** A valid two-step plan; with `pad` (998 characters), every text field is as long as the contract allows. */
function plan(pad = ""): Plan {
  return {
    summary: "prepare data, then review",
    scope: "multi-agent",
    risks: [{ risk: "leakage", mitigation: "split first" }],
    brain: "offline",
    // Padded, a third step makes up for the reviewer's fixed criteria.
    steps: pad
      ? [
          step("data", "data-engineer", [], pad),
          step("train", "ml-engineer", ["data"], pad),
          step("review", "code-reviewer", ["data", "train"], pad),
        ]
      : [step("data", "data-engineer", [], pad), step("review", "code-reviewer", ["data"], pad)],
  } as Plan;
}

/** A brain whose plan for a task is decided by the test (by default, at once). */
function brainWith(planFor: (req: PlanRequest) => Promise<Plan> = async () => plan()): Brain {
  return {
    kind: "offline",
    plan: planFor,
    runStep: async () => {
      throw new Error("not used by the tech lead");
    },
    summarize: async () => "done",
    learn: async () => [],
    lessonFromFinding: async () => null,
  };
}

const create = (taskId: string, o: { text?: string; channel?: string; user?: string } = {}): TaskCreate => ({
  v: 1,
  taskId,
  text: o.text ?? "clean the churn table",
  requester: { userId: o.user ?? "UREQ" },
  slack: { channel: o.channel ?? "C1", threadTs: `${taskId}.1`, messageTs: `${taskId}.1` },
  requestedAt: new Date().toISOString(),
});

const decide = (taskId: string, decision: TaskDecide["decision"], id: string): TaskDecide => ({
  v: 1,
  taskId,
  decisionId: id,
  decision,
  userId: "UREQ",
  via: "reply",
  decidedAt: new Date().toISOString(),
});

async function startLead(
  url: string,
  brain: Brain,
): Promise<{ bus: Bus; lead: TechLead; [Symbol.asyncDispose](): Promise<void> }> {
  const bus = await Bus.connect({ url, name: "tech-lead", log });
  await bus.setUp(everyResource([CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults, CONSUMERS.step("data-engineer")]));
  const lead = await buildTechLead({
    bus,
    brain,
    log,
    policy: { approvers: [], maxReviewRounds: 1, maxReplans: 1 },
    setAsideAfter: 3,
    backoffMs: () => 200,
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

const planned = (events: TaskEvent[]) => events.some((e) => e.type === "task.planned");

function status(bus: Bus, q: { channel?: string; userId?: string }) {
  return bus.request(SUBJECTS.statusQuery, StatusQuery, StatusReply, { v: 1, ...q });
}

describe("tech lead: tasks never wait on each other", () => {
  it("a slow plan does not hold up another task: the second task's plan appears first", async () => {
    await using nats = await startNatsServer();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    await using tl = await startLead(
      nats.url,
      brainWith(async (req) => {
        if (req.text.includes("slow")) await gate;
        return plan();
      }),
    );
    const slow = await collectEvents(tl.bus, "tSlow");
    const fast = await collectEvents(tl.bus, "tFast");
    try {
      await tl.bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tSlow", { text: "a slow plan" }), "m-slow");
      await tl.bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tFast", { text: "a quick plan" }), "m-fast");
      // A decision on the slow task, sent while its plan is still being written, waits for it and applies after.
      await tl.bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("tSlow", "approve", "d-slow"), "d-slow");
      await waitFor(() => planned(fast), 5000, "the quick task's plan while the slow one is still planning");
      expect(planned(slow)).toBe(false);
    } finally {
      release();
    }
    await waitFor(() => slow.some((e) => e.type === "task.approved"), 10_000, "the slow task's approval");
    // The slow task's events kept their order: planned, then approved (never a refusal for "still being written").
    const kinds = slow.map((e) => e.type).filter((t) => t !== "task.updated");
    expect(kinds).toEqual(["task.planned", "task.approved"]);
    expect((await tl.lead.store.get("tSlow"))?.state).toBe("executing");
  });

  it("one task's commands apply in the order they were sent, many tasks at once", async () => {
    await using nats = await startNatsServer();
    await using tl = await startLead(nats.url, brainWith());
    const ids = Array.from({ length: 8 }, (_, i) => `tOrder${i}`);
    const events = new Map(await Promise.all(ids.map(async (id) => [id, await collectEvents(tl.bus, id)] as const)));
    for (const id of ids) await tl.bus.publish(SUBJECTS.taskCreate, TaskCreate, create(id), `c-${id}`);
    for (const id of ids) {
      await tl.bus.publish(SUBJECTS.taskDecide, TaskDecide, decide(id, "approve", `a-${id}`), `a-${id}`);
      await tl.bus.publish(SUBJECTS.taskDecide, TaskDecide, decide(id, "cancel", `x-${id}`), `x-${id}`);
    }
    await waitFor(() => ids.every((id) => events.get(id)?.some((e) => e.type === "task.cancelled")), 15_000, "every cancel");
    for (const id of ids) {
      const kinds = (events.get(id) ?? []).map((e) => e.type).filter((t) => t !== "task.updated");
      expect(kinds).toEqual(["task.planned", "task.approved", "task.cancelled"]);
    }
  });
});

describe("tech lead: one bad message never stalls the others", () => {
  it("a signed mention with a 200,000-character field is set aside at once, told in its thread, and the next mention is planned", async () => {
    await using nats = await startNatsServer();
    await using tl = await startLead(nats.url, brainWith());
    const bad = await collectEvents(tl.bus, "tHuge");
    const next = await collectEvents(tl.bus, "tNext");
    // What the gateway would have sent for a forged-but-signed mention: valid but for one enormous field.
    // ("€" is 3 bytes: the command fits NATS's 1 MB, the record — which holds the channel twice — would not.)
    const huge = { ...create("tHuge"), slack: { channel: "€".repeat(200_000), threadTs: "1.0", messageTs: "1.0" } };
    await rawNats(tl.bus).js.publish(SUBJECTS.taskCreate, JSON.stringify(huge), { msgID: "m-huge" });
    await tl.bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tNext"), "m-next");
    await waitFor(() => planned(next), 5000, "the next mention's plan");

    // Kept with its reason in the dead-letter stream, and the thread is told.
    await waitFor(() => bad.some((e) => e.type === "task.failed"), 5000, "the bad task's thread to be told");
    const failed = bad.find((e) => e.type === "task.failed");
    expect(failed?.type === "task.failed" && failed.reason).toMatch(/could not take this task on.*slack\.channel.*set aside/s);
    const kept = await rawNats(tl.bus).jsm.streams.getMessage(STREAMS.deadLetters.name, {
      last_by_subj: SUBJECTS.deadLetter(CONSUMERS.techLeadCommands.durable),
    });
    expect(kept?.header.get(SET_ASIDE_HEADERS.code)).toBe("invalid_message");
    expect(kept?.header.get(SET_ASIDE_HEADERS.reason)).toContain("slack.channel");
    expect(kept?.header.get(SET_ASIDE_HEADERS.subject)).toBe(SUBJECTS.taskCreate);
    expect(JSON.parse(kept?.string() ?? "{}").taskId).toBe("tHuge");
    // Nothing of it is left to retry, and no record was written.
    await waitFor(async () => (await tl.bus.streamState(STREAMS.commands.name)).messages === 0, 10_000, "an empty queue");
    expect(await tl.lead.store.get("tHuge")).toBeNull();
  });

  it("a plan too large to store is refused in the thread instead of retried, and other tasks go on", async () => {
    await using nats = await startNatsServer();
    let plans = 0;
    await using tl = await startLead(
      nats.url,
      brainWith(async (req) => {
        plans += 1;
        // Within the plan contract's limits, but stored twice (the plan and its event) it passes 1 MB
        // (a control character is 6 bytes of JSON).
        return req.text.includes("everything") ? plan("\u0007".repeat(998)) : plan();
      }),
    );
    const big = await collectEvents(tl.bus, "tBig");
    const other = await collectEvents(tl.bus, "tOther");
    await tl.bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tBig", { text: "plan everything" }), "m-big");
    await tl.bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tOther"), "m-other");
    await waitFor(() => planned(other), 5000, "the other task's plan");
    await waitFor(() => big.some((e) => e.type === "task.failed"), 5000, "the refusal in the big task's thread");
    const failed = big.find((e) => e.type === "task.failed");
    expect(failed?.type === "task.failed" && failed.reason).toMatch(/too large to keep.*smaller plan/);
    expect((await tl.lead.store.get("tBig"))?.state).toBe("failed");
    // Planned once, not again and again.
    expect(plans).toBe(2);
  });
});

describe("tech lead: a record that does not parse is quarantined", () => {
  it("status and a restarted tech lead keep working; the record is kept aside with its reason", async () => {
    await using nats = await startNatsServer();
    const observer = await Bus.connect({ url: nats.url, name: "observer", log });
    const first = await startLead(nats.url, brainWith());
    const good = await collectEvents(first.bus, "tGood");
    await first.bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tGood"), "m-good");
    await waitFor(() => planned(good), 5000, "the good task's plan");

    const raw = await rawKv(observer, BUCKETS.tasks);
    await raw.put("tBroken", "{this is not json");
    await raw.put("tWrongShape", JSON.stringify({ v: 1, id: "tWrongShape", state: "nonsense" }));
    const told = await collectEvents(observer, "tWrongShape");

    const reply = await status(first.bus, { channel: "C1", userId: "UREQ" });
    expect(reply.ok && reply.active.map((t) => t.id)).toEqual(["tGood"]);
    expect(await raw.get("tBroken").then((e) => e?.operation)).toBe("DEL");
    const aside = await first.lead.store.quarantined();
    expect(aside.map((q) => q.key).sort()).toEqual(["tBroken", "tWrongShape"]);
    expect(aside.find((q) => q.key === "tBroken")).toMatchObject({ reason: "not JSON", raw: "{this is not json" });
    expect(aside.find((q) => q.key === "tWrongShape")?.reason).toMatch(/state/);
    await waitFor(() => told.some((e) => e.type === "task.failed"), 5000, "the damaged task's thread to be told");
    await first[Symbol.asyncDispose]();

    // A bad record written while the tech lead was down does not stop the next one starting.
    await raw.put("tBrokenAgain", "[]");
    await using second = await startLead(nats.url, brainWith());
    const after = await collectEvents(second.bus, "tAfter");
    await second.bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tAfter"), "m-after");
    await waitFor(() => planned(after), 5000, "a plan from the restarted tech lead");
    const again = await status(second.bus, { channel: "C1" });
    expect(again.ok && again.active.map((t) => t.id).sort()).toEqual(["tAfter", "tGood"]);
    expect((await second.lead.store.quarantined()).map((q) => q.key)).toContain("tBrokenAgain");
    await observer.close();
  });
});

describe("tech lead: /mllead status shows what concerns the caller", () => {
  it("the tasks of the channel it is run in and the caller's own, nothing else", async () => {
    await using nats = await startNatsServer();
    await using tl = await startLead(nats.url, brainWith());
    const tasks = [
      create("tHere", { channel: "CHERE", user: "UANN" }),
      create("tHereBob", { channel: "CHERE", user: "UBOB" }),
      create("tAnnElsewhere", { channel: "CELSE", user: "UANN" }),
      create("tPrivate", { channel: "CPRIVATE", user: "UBOB", text: "secret acquisition model" }),
    ];
    for (const t of tasks) await tl.bus.publish(SUBJECTS.taskCreate, TaskCreate, t, `m-${t.taskId}`);
    await waitFor(async () => (await tl.lead.store.all()).filter((t) => t.state === "awaiting_approval").length === 4);

    const ann = await status(tl.bus, { channel: "CHERE", userId: "UANN" });
    expect(ann.ok && ann.active.map((t) => t.id).sort()).toEqual(["tAnnElsewhere", "tHere", "tHereBob"]);
    const text = renderStatusReply(ann);
    expect(text).not.toContain("secret acquisition");
    expect(text).not.toContain("CPRIVATE");

    const stranger = await status(tl.bus, { channel: "CELSE", userId: "UCAROL" });
    expect(stranger.ok && stranger.active.map((t) => t.id)).toEqual(["tAnnElsewhere"]);
    const nobody = await status(tl.bus, {});
    expect(nobody.ok && nobody.active).toEqual([]);
  });

  it("the gateway asks with the channel and the user of the slash command", async () => {
    await using h = await startGatewayHarness();
    const asked: StatusQuery[] = [];
    await h.lead.serve(
      SUBJECTS.statusQuery,
      StatusQuery,
      StatusReply,
      async (q) => {
        asked.push(q);
        return { v: 1 as const, ok: true as const, active: [], recent: [] };
      },
      (e) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } }),
    );
    const out = await h.sandbox.slash("status", { channel: h.sandbox.defaultChannel, user: "U0ANN" });
    expect(out.text).toContain("No active tasks");
    expect(asked).toEqual([expect.objectContaining({ channel: h.sandbox.defaultChannel, userId: "U0ANN" })]);
  });

  it("shows the process sandbox's warning for a task whose steps run without bubblewrap", async () => {
    await using nats = await startNatsServer();
    await using tl = await startLead(nats.url, brainWith());
    await tl.bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tBox"), "m-box");
    await waitFor(async () => (await tl.lead.store.get("tBox"))?.state === "awaiting_approval");
    await tl.bus.publish(SUBJECTS.taskDecide, TaskDecide, decide("tBox", "approve", "a-box"), "a-box");
    await waitFor(async () => (await tl.lead.store.get("tBox"))?.steps.data?.status === "dispatched");
    const warning = "bubblewrap is not installed: commands run in the process sandbox without filesystem or network isolation";
    await emitEvent(
      tl.bus,
      TaskEvent.parse({
        v: 1,
        eventId: "start-tBox-data",
        taskId: "tBox",
        at: new Date().toISOString(),
        type: "step.started",
        stepId: "data",
        role: "data-engineer",
        attempt: 1,
        title: "data step",
        sandbox: "process",
        warning,
      }),
    );
    await waitFor(async () => (await tl.lead.store.get("tBox"))?.steps.data?.status === "running");
    const reply = await status(tl.bus, { channel: "C1", userId: "UREQ" });
    expect(reply.ok && reply.active[0]?.sandboxWarning).toBe(warning);
    expect(renderStatusReply(reply)).toContain(`:warning: _Sandbox:_ ${warning}`);
  });
});

describe("bus: typed KV", () => {
  it("lists each key once, even while the keys are being written", async () => {
    await using nats = await startNatsServer();
    const bus = await Bus.connect({ url: nats.url, name: "t", log });
    await bus.ensureBucket({ name: "test_keys", history: 5 });
    const kv = await bus.kv("test_keys", StatusQuery);
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => kv.put(k, { v: 1, recent: 0 })));
    // Status lists the tasks while the tech lead writes them: a key written mid-listing came back twice.
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) await kv.put(keys[n % keys.length] as string, { v: 1, recent: n % 20 });
    })();
    for (let round = 0; round < 10; round++) {
      const listed = await kv.keys();
      expect(listed.length).toBe(new Set(listed).size);
      expect(listed.length).toBe(keys.length);
    }
    writing = false;
    await writer;
    await bus.close();
  });
});

describe("bus: a message that keeps failing is set aside", () => {
  it("after a few deliveries, with its reason, while the messages behind it are handled", async () => {
    await using nats = await startNatsServer();
    const bus = await Bus.connect({ url: nats.url, name: "t", log });
    await bus.setUp(everyResource([{ ...CONSUMERS.techLeadCommands, maxAckPending: 1 }]));
    const attempts = new Map<string, number>();
    const handled: string[] = [];
    const setAside: { taskId: string; deliveries: number; reason: string }[] = [];
    await bus.consume(
      { ...CONSUMERS.techLeadCommands, maxAckPending: 1 },
      TaskCreate,
      async (cmd) => {
        attempts.set(cmd.taskId, (attempts.get(cmd.taskId) ?? 0) + 1);
        if (cmd.taskId === "tPoison") throw new Error("the brain's client is misconfigured for this task");
        handled.push(cmd.taskId);
      },
      {
        backoffMs: () => 100,
        deadLetter: {
          subject: "mllead.dead.test",
          maxDeliveries: 3,
          onSetAside: async (letter) => {
            setAside.push({ taskId: JSON.parse(new TextDecoder().decode(letter.data)).taskId, ...letter });
          },
        },
      },
    );
    await bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tPoison"), "p");
    await bus.publish(SUBJECTS.taskCreate, TaskCreate, create("tAfter"), "a");
    await waitFor(() => handled.includes("tAfter") && setAside.length === 1, 10_000, "the poison set aside and the next handled");
    expect(attempts.get("tPoison")).toBe(3);
    expect(setAside[0]).toMatchObject({
      taskId: "tPoison",
      deliveries: 3,
      reason: "the brain's client is misconfigured for this task",
    });
    const kept = await rawNats(bus).jsm.streams.getMessage(STREAMS.deadLetters.name, { last_by_subj: "mllead.dead.test" });
    expect(kept?.header.get(SET_ASIDE_HEADERS.reason)).toBe("the brain's client is misconfigured for this task");
    expect(kept?.header.get(SET_ASIDE_HEADERS.deliveries)).toBe("3");
    await waitFor(async () => (await bus.streamState(STREAMS.commands.name)).messages === 0, 5000, "an empty queue");
    await bus.close();
  });
});

import { rawNats } from "@mllead/bus/testing";
import type { EventOf, TaskEvent } from "@mllead/contracts";
import { emitEvent, OBJECT_STORE, SUBJECTS } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { type SandboxMessage, SLACK_LIKE_LIMITS } from "@mllead/slack-sandbox";
import { describe, expect, it, vi } from "vitest";
import { OutboundStore } from "../../services/slack-gateway/src/outbound/outbound-store.js";
import { Poster } from "../../services/slack-gateway/src/outbound/poster.js";
import { startOutbound } from "../../services/slack-gateway/src/outbound.js";
import { SlackStore } from "../../services/slack-gateway/src/store.js";
import { outboundClient, webSlackApi } from "../../services/slack-gateway/src/web-slack-api.js";
import { BOT_TOKEN, type GatewayHarness, startGatewayHarness } from "../helpers/gateway.js";
import { planEvent, updatedEvent } from "./gateway-fixtures.js";

const WAIT = { timeout: 20_000, interval: 50 };
const at = () => new Date().toISOString();
const keyOf = (m: SandboxMessage | undefined) => String(m?.metadata?.event_payload?.event_id ?? "");
const shown = (m: SandboxMessage | undefined) => `${m?.text ?? ""}\n${JSON.stringify(m?.blocks ?? [])}`;

/** A 1×1 PNG. */
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
    "1f15c4890000000d49444154789c6360000002000154a24f5f0000000049454e44ae426082",
  "hex",
);

async function startTask(h: GatewayHarness, text = "train a baseline", channel?: string) {
  const root = await h.sandbox.mention(text, channel ? { channel } : {});
  await vi.waitFor(() => expect(h.creates().some((c) => c.slack.messageTs === root.ts)).toBe(true), WAIT);
  const taskId = h.creates().find((c) => c.slack.messageTs === root.ts)?.taskId as string;
  const slack = { channel: root.channel, threadTs: root.ts, messageTs: root.ts, teamId: h.sandbox.bot.teamId };
  return { root, taskId, slack, thread: () => h.sandbox.thread(root.channel, root.ts).slice(1) };
}

async function publishAgain(h: GatewayHarness, e: TaskEvent): Promise<void> {
  await rawNats(h.lead).js.publish(SUBJECTS.event(e as TaskEvent & { stepId?: string; jobId?: string }), JSON.stringify(e));
}

function analystDone(
  taskId: string,
  artifacts: EventOf<"step.completed">["result"]["artifacts"],
  stepId = "analyze",
): EventOf<"step.completed"> {
  return {
    v: 1,
    eventId: `${taskId}:${stepId}:completed:1`,
    taskId,
    at: at(),
    type: "step.completed",
    stepId,
    role: "analyst",
    attempt: 1,
    title: "Analyze the run",
    result: { status: "succeeded", summary: "Loss falls steadily.", artifacts, metrics: {}, filesChanged: [], criteria: [] },
  };
}

/** Every string in a Web API call's arguments a person could see (button values and URLs are not shown). */
function visibleStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") {
    try {
      const parsed = JSON.parse(v);
      if (typeof parsed === "object" && parsed !== null) return visibleStrings(parsed, out);
    } catch {}
    out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) visibleStrings(x, out);
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v))
      if (!["value", "url", "image_url", "action_id", "block_id", "event_payload"].includes(k)) visibleStrings(x, out);
  }
  return out;
}

describe("slack-gateway: plots and files in the thread", () => {
  it("uploads plots and small reports with a title and alt text, lists large files, and never uploads one twice", async () => {
    await using h = await startGatewayHarness({ sandbox: { maxUploadBytes: 150 } });
    const { taskId, thread } = await startTask(h);
    const objects = await h.lead.objectStore(OBJECT_STORE);
    await objects.putBlob({ name: `${taskId}/analyze/1/reports/loss.png` }, PNG);
    await objects.putBlob({ name: `${taskId}/analyze/1/reports/report.md` }, Buffer.from("# Report\n\nLoss falls."));
    const artifacts = [
      {
        name: "reports/loss.png",
        objectName: `${taskId}/analyze/1/reports/loss.png`,
        contentType: "image/png",
        bytes: PNG.length,
      },
      { name: "reports/report.md", objectName: `${taskId}/analyze/1/reports/report.md`, contentType: "text/markdown", bytes: 22 },
      {
        name: "models/model.npz",
        objectName: `${taskId}/train/1/models/model.npz`,
        contentType: "application/octet-stream",
        bytes: 50_000_000,
      },
    ];
    const done = analystDone(taskId, artifacts);
    await emitEvent(h.lead, done);
    await vi.waitFor(() => expect(thread().some((m) => m.files?.length)).toBe(true), WAIT);
    const step = thread().find((m) => keyOf(m) === done.eventId);
    expect(shown(step)).toContain("`loss.png`, `report.md` (shared below)");
    expect(shown(step)).toContain("`models/model.npz` 47.7 MB — kept in the Object Store");
    const share = thread().find((m) => m.files?.length) as SandboxMessage;
    expect(share.subtype).toBe("file_share");
    expect(share.text).toContain("from *Analyze the run*");
    expect(share.files?.map((f) => [f.name, f.title])).toEqual([
      ["loss.png", "loss.png — Analyze the run"],
      ["report.md", "report.md — Analyze the run"],
    ]);
    expect(share.files?.[0]?.alt_txt).toContain("Plot loss.png");
    expect(
      h.sandbox
        .files()
        .find((f) => f.name === "loss.png")
        ?.bytes.equals(PNG),
    ).toBe(true);

    // The same plot again (a job's artifact listed by its step, a redelivery): not uploaded twice.
    await publishAgain(h, done);
    await emitEvent(h.lead, analystDone(taskId, [artifacts[0] as (typeof artifacts)[number]], "analyze2"));
    // A plot over the workspace's upload limit: named in the thread instead, not lost.
    const big = Buffer.concat([PNG, Buffer.alloc(200)]);
    await objects.putBlob({ name: `${taskId}/plot/1/big.png` }, big);
    await emitEvent(
      h.lead,
      analystDone(
        taskId,
        [{ name: "big.png", objectName: `${taskId}/plot/1/big.png`, contentType: "image/png", bytes: big.length }],
        "plot",
      ),
    );
    await vi.waitFor(() => expect(thread().some((m) => m.text.includes("could not be uploaded"))).toBe(true), WAIT);
    const refused = thread().find((m) => m.text.includes("could not be uploaded"));
    expect(refused?.text).toContain("file_upload_size_restricted");
    expect(refused?.text).toContain(`${taskId}/plot/1/big.png`);
    expect(h.sandbox.calls("files.completeUploadExternal").filter((c) => c.ok)).toHaveLength(1);
    expect(thread().filter((m) => m.files?.length)).toHaveLength(1);
  });
});

describe("slack-gateway: one stuck thread delays no other, and nothing a person wrote can broadcast", () => {
  it("sets aside events of a task with no thread, with the reason, and renders another task's event at once", async () => {
    await using h = await startGatewayHarness();
    const { taskId, slack, thread } = await startTask(h);
    for (let i = 0; i < 10; i++) {
      await emitEvent(h.lead, {
        v: 1,
        eventId: `tNoThread:s${i}:started:1`,
        taskId: "tNoThread",
        at: at(),
        type: "step.started",
        stepId: `s${i}`,
        role: "data-engineer",
        attempt: 1,
        title: "nowhere",
      });
    }
    await emitEvent(h.lead, updatedEvent(taskId, 1, "executing", slack, "running"));
    await vi.waitFor(() => expect(thread().some((m) => keyOf(m) === `card:${taskId}`)).toBe(true), WAIT);
    // Read once on purpose, and no clock: events are handled one at a time in stream order, so when the card is
    // there every event before it was set aside on its first delivery. One sent back for a retry would let the
    // card pass it (and be missing here); one that waited for its thread would hold the card up behind it.
    const aside = await (await OutboundStore.open(h.lead, createLogger("test", "silent"))).setAsideEntries();
    expect(aside.filter((a) => a.taskId === "tNoThread")).toHaveLength(10);
    expect(aside[0]?.reason).toBe("no Slack thread is known for task tNoThread");
  });

  it("escapes every text from people, models and jobs: no <!channel>, mention or disguised link reaches Slack", async () => {
    await using h = await startGatewayHarness();
    const H = "<!channel> ping <@U0BOSS> <https://evil.example|click here> & <!here>";
    const { taskId, slack, thread, root } = await startTask(h, `train ${H}`);
    const base = { v: 1 as const, taskId, at: at() };
    const plan = planEvent(taskId, 1, "offline");
    plan.plan.summary = `Plan ${H}`;
    plan.plan.risks = [{ risk: `risk ${H}`, mitigation: `mitigate ${H}` }];
    (plan.plan.steps[0] as { title: string }).title = `Clean ${H}`;
    plan.feedback = `feedback ${H}`;
    const events: TaskEvent[] = [
      {
        ...updatedEvent(taskId, 1, "executing", slack, "running"),
        view: { ...updatedEvent(taskId, 1, "executing", slack).view, text: `train ${H}` },
      },
      plan,
      { ...base, eventId: `${taskId}:approved`, type: "task.approved", userId: "U1><!channel", via: `button ${H}` },
      { ...base, eventId: `${taskId}:changes`, type: "task.changes_requested", userId: "U0HUMAN", feedback: `change ${H}` },
      {
        ...base,
        eventId: `${taskId}:s1:started:1`,
        type: "step.started",
        stepId: "s1",
        role: "data-engineer",
        attempt: 1,
        title: `Clean ${H}`,
        warning: `warn ${H}`,
      },
      {
        ...base,
        eventId: `${taskId}:s1:failed:1`,
        type: "step.failed",
        stepId: "s1",
        role: "data-engineer",
        attempt: 1,
        title: `Clean ${H}`,
        error: `error ${H}`,
      },
      {
        ...base,
        eventId: `${taskId}:s1:completed:2`,
        type: "step.completed",
        stepId: "s1",
        role: "data-engineer",
        attempt: 2,
        title: `Clean ${H}`,
        result: {
          status: "succeeded",
          summary: `summary ${H}`,
          artifacts: [{ name: `data ${H}.csv`, objectName: "x", contentType: "text/csv", bytes: 10 }],
          metrics: { [`m ${H}`]: 1 },
          filesChanged: [`file ${H}`],
          criteria: [{ id: "ac1", criterion: `crit ${H}`, met: true, evidence: `evidence ${H}` }],
          warnings: [`warning ${H}`],
        },
      },
      { ...base, eventId: `${taskId}:replanning`, type: "task.replanning", stepId: "s1", reason: `reason ${H}` },
      {
        ...base,
        eventId: `${taskId}:rejected`,
        type: "task.decision_rejected",
        userId: "U0HUMAN",
        decision: "approve",
        reason: `refused ${H}`,
      },
      { ...base, eventId: `${taskId}:cancelled`, type: "task.cancelled", userId: "U0HUMAN", reason: `cancel ${H}` },
      { ...base, eventId: `${taskId}:failed`, type: "task.failed", reason: `failed ${H}` },
      {
        ...base,
        eventId: `${taskId}:completed`,
        type: "task.completed",
        summary: `done ${H}\n\nmore ${H}`,
        metrics: {},
        artifacts: [],
        brain: "offline",
      },
    ] as TaskEvent[];
    for (const e of events) await emitEvent(h.lead, e);
    await vi.waitFor(() => expect(thread().some((m) => keyOf(m) === `${taskId}:completed`)).toBe(true), WAIT);
    await vi.waitFor(() => expect(h.sandbox.ephemerals(root.channel, "U0HUMAN").length).toBeGreaterThan(0), WAIT);
    const methods = [
      "chat.postMessage",
      "chat.update",
      "chat.postEphemeral",
      "chat.startStream",
      "chat.appendStream",
      "chat.stopStream",
    ];
    const seen = methods.flatMap((m) => h.sandbox.calls(m)).flatMap((c) => visibleStrings(c.args));
    expect(seen.join("\n")).toContain("&lt;!channel&gt;");
    for (const s of seen) {
      expect(s).not.toMatch(/<!(channel|here|everyone)/);
      expect(s).not.toContain("<@U0BOSS");
      expect(s).not.toContain("<https://evil");
    }
  });
});

describe("slack-gateway: every limit error Slack returns is answered without losing or doubling a message", () => {
  it("a refused plan block falls back to the classic card; msg_too_long falls back to text; each message is there once", async () => {
    await using h = await startGatewayHarness();
    const { taskId, slack, thread } = await startTask(h);
    h.sandbox.injectFault((method, args) => {
      const blocks = String(typeof args.blocks === "string" ? args.blocks : JSON.stringify(args.blocks ?? ""));
      if (blocks.includes('"type":"plan"')) return "invalid_blocks";
      if (method === "chat.postMessage" && String(args.text).includes("started") && args.blocks) return "msg_too_long";
      return null;
    });
    await emitEvent(h.lead, updatedEvent(taskId, 1, "executing", slack, "running"));
    await emitEvent(h.lead, {
      v: 1,
      eventId: `${taskId}:s1:started:1`,
      taskId,
      at: at(),
      type: "step.started",
      stepId: "s1",
      role: "data-engineer",
      attempt: 1,
      title: "Clean events",
    });
    await emitEvent(h.lead, updatedEvent(taskId, 2, "executing", slack, "completed"));
    await vi.waitFor(
      () => expect(shown(thread().find((m) => keyOf(m) === `card:${taskId}`))).toContain(":white_check_mark: *Clean events*"),
      WAIT,
    );
    await vi.waitFor(() => expect(thread().some((m) => keyOf(m) === `${taskId}:s1:started:1`)).toBe(true), WAIT);
    const card = thread().filter((m) => keyOf(m) === `card:${taskId}`);
    expect(card).toHaveLength(1);
    expect(JSON.stringify(card[0]?.blocks)).not.toContain('"type":"plan"');
    // The plan block was refused once; afterwards the card went straight to the classic form.
    expect(h.sandbox.calls().filter((c) => c.error === "invalid_blocks")).toHaveLength(1);
    const started = thread().filter((m) => keyOf(m) === `${taskId}:s1:started:1`);
    expect(started).toHaveLength(1);
    expect(started[0]?.blocks).toBeUndefined();
    expect(started[0]?.text).toContain("started *Clean events*");
  });

  it("a message Slack finds too long (more than 50 blocks) is posted as its text instead, once", async () => {
    await using h = await startGatewayHarness();
    const { root, thread } = await startTask(h);
    const poster = new Poster(
      webSlackApi(outboundClient(BOT_TOKEN, h.sandbox.apiUrl)),
      await SlackStore.open(h.lead),
      createLogger("t", "silent"),
    );
    const blocks = Array.from({ length: 60 }, (_, i) => ({
      type: "section" as const,
      text: { type: "mrkdwn" as const, text: `part ${i}` },
    }));
    const target = { channel: root.channel, threadTs: root.ts };
    const first = await poster.postOnce("too-many", target, { text: "sixty parts", blocks });
    const again = await poster.postOnce("too-many", target, { text: "sixty parts", blocks });
    expect(again).toMatchObject({ ts: first.ts, created: false });
    expect(first.form).toBeGreaterThan(0);
    expect(h.sandbox.calls("chat.postMessage").map((c) => c.error ?? "ok")).toEqual(["invalid_blocks", "ok"]);
    const [msg] = thread();
    expect(thread()).toHaveLength(1);
    expect(msg?.blocks).toBeUndefined();
    expect(msg?.text).toContain("part 0");
    expect(msg?.text).toContain("part 59");
  });

  it("under Slack-like limits (429 + Retry-After on posts, updates and reactions) every plan and card is in its thread once", async () => {
    await using h = await startGatewayHarness({
      sandbox: {
        rateLimits: SLACK_LIKE_LIMITS,
        channels: [
          { id: "C0ONE", name: "one" },
          { id: "C0TWO", name: "two" },
        ],
      },
    });
    const tasks: Awaited<ReturnType<typeof startTask>>[] = [];
    for (let i = 0; i < 8; i++) tasks.push(await startTask(h, `task ${i}`, i % 2 ? "C0TWO" : "C0ONE"));
    for (const t of tasks) {
      await emitEvent(h.lead, updatedEvent(t.taskId, 1, "planning", t.slack));
      await emitEvent(h.lead, planEvent(t.taskId, 1, "offline"));
      await emitEvent(h.lead, updatedEvent(t.taskId, 2, "awaiting_approval", t.slack));
      await emitEvent(h.lead, updatedEvent(t.taskId, 3, "executing", t.slack, "running"));
    }
    // The card is not ordered behind the plan (it is edited in place and may come first while the plan waits on
    // its thread): wait for each thread's whole set, not for the cards and then a look at the plans.
    await vi.waitFor(
      () => {
        for (const t of tasks) expect(t.thread().map(keyOf).sort()).toEqual([`${t.taskId}:planned:1`, `card:${t.taskId}`].sort());
      },
      { timeout: 40_000, interval: 100 },
    );
    expect(h.sandbox.calls("chat.postMessage").some((c) => c.status === 429)).toBe(true);
  }, 60_000);

  it("what waits in the outbox when the gateway stops is delivered, once, by the next gateway", async () => {
    await using h = await startGatewayHarness();
    const { taskId, thread, root } = await startTask(h);
    const log = createLogger("outbound", "silent");
    const open = async () =>
      startOutbound({
        bus: h.lead,
        store: await SlackStore.open(h.lead),
        slack: webSlackApi(outboundClient(BOT_TOKEN, h.sandbox.apiUrl)),
        log,
        consume: false,
      });
    const started = (n: number): EventOf<"step.started"> => ({
      v: 1,
      eventId: `${taskId}:s${n}:started:1`,
      taskId,
      at: at(),
      type: "step.started",
      stepId: `s${n}`,
      role: "data-engineer",
      attempt: 1,
      title: `Step ${n}`,
    });
    // One post, then a 429 with a Retry-After far beyond this test.
    h.sandbox.setRateLimit("chat.postMessage", { perSecond: 0.001, burst: 1, per: "channel" });
    const first = await open();
    await first.renderer.handle(started(1), { log });
    await first.renderer.handle(started(2), { log });
    await vi.waitFor(() => expect(h.sandbox.calls("chat.postMessage").some((c) => c.status === 429)).toBe(true), WAIT);
    expect(first.outbox.size()).toBe(1);
    await first.stop();

    h.sandbox.setRateLimit("chat.postMessage", null);
    const second = await open();
    await second.outbox.idle();
    await second.stop();
    expect(thread().map(keyOf)).toEqual([`${taskId}:s1:started:1`, `${taskId}:s2:started:1`]);
    expect(h.sandbox.thread(root.channel, root.ts)).toHaveLength(3);
  });
});

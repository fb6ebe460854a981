import { rawNats } from "@mllead/bus/testing";
import {
  BUCKETS,
  emitEvent,
  LessonsQuery,
  LessonsReply,
  RunnerHeartbeat,
  type StatusQuery,
  StatusQuery as StatusQuerySchema,
  StatusReply,
  SUBJECTS,
} from "@mllead/contracts";
import { describe, expect, it, vi } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "../helpers/gateway.js";
import { updatedEvent } from "./gateway-fixtures.js";

const WAIT = { timeout: 15_000, interval: 50 };

async function startTask(h: GatewayHarness, text = "train a baseline") {
  const root = await h.sandbox.mention(text);
  await vi.waitFor(() => expect(h.creates().some((c) => c.slack.messageTs === root.ts)).toBe(true), WAIT);
  const taskId = h.creates().find((c) => c.slack.messageTs === root.ts)?.taskId as string;
  return { root, taskId, slack: { channel: root.channel, threadTs: root.ts, messageTs: root.ts } };
}

/** The tech lead's side of `mllead.q.status`: answers with the given tasks and records the queries. */
async function serveStatus(h: GatewayHarness, views: () => ReturnType<typeof updatedEvent>["view"][]): Promise<StatusQuery[]> {
  const queries: StatusQuery[] = [];
  await h.lead.serve(
    SUBJECTS.statusQuery,
    StatusQuerySchema,
    StatusReply,
    async (q) => {
      queries.push(q);
      const all = views();
      return {
        v: 1 as const,
        ok: true as const,
        active: all.filter((v) => v.state !== "done"),
        recent: all.filter((v) => v.state === "done"),
      };
    },
    (e) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } }),
  );
  return queries;
}

async function beat(h: GatewayHarness): Promise<void> {
  const kv = await h.lead.kv(BUCKETS.runners, RunnerHeartbeat);
  await kv.put("r1", {
    runnerId: "r1",
    host: "gpu-host-1",
    gpus: [
      { index: 0, uuid: "GPU-1", name: "NVIDIA H100 80GB", memoryTotalMiB: 81920, memoryUsedMiB: 10240, utilizationPct: 37 },
    ],
    cpuSlots: 1,
    runningJobs: ["jTrain1"],
    at: new Date().toISOString(),
  });
}

describe("slack-gateway: /mllead status | jobs | cancel | agents | lessons | help", () => {
  it("answers every command: the help lists them, jobs shows this channel's jobs and the runners' GPUs, agents the agent files", async () => {
    await using h = await startGatewayHarness();
    const help = await h.sandbox.slash("help");
    for (const c of ["status", "jobs", "cancel <task>", "agents", "lessons", "help"]) expect(help.text).toContain(`/mllead ${c}`);

    const { taskId } = await startTask(h);
    await beat(h);
    await emitEvent(h.lead, {
      v: 1,
      eventId: "j1:started",
      taskId,
      stepId: "train",
      jobId: "jTrain1",
      at: new Date().toISOString(),
      type: "job.started",
      host: "gpu-host-1",
      runnerId: "r1",
      devices: ["GPU-1"],
    });
    await vi.waitFor(async () => expect((await h.sandbox.slash("jobs")).text).toContain("`jTrain1`"), WAIT);
    const jobs = (await h.sandbox.slash("jobs")).text;
    expect(jobs).toContain("running on `gpu-host-1`");
    expect(jobs).toContain("*gpu-host-1* — 1 GPU · 1 job running");
    expect(jobs).toContain("NVIDIA H100 80GB · 10.0/80.0 GiB · 37%");

    const agents = (await h.sandbox.slash("agents")).text;
    for (const name of ["data-engineer", "ml-engineer", "analyst", "code-reviewer", "tech-lead"])
      expect(agents).toContain(`*${name}*`);
    expect(agents).toMatch(/model `[a-z0-9-]+`/);
    // The tech lead's side of `mllead.q.lessons` (tests/integration/tech-lead-lessons.test.ts covers the real one).
    const asked: LessonsQuery[] = [];
    await h.lead.serve(
      SUBJECTS.lessonsQuery,
      LessonsQuery,
      LessonsReply,
      async (q) => {
        asked.push(q);
        return { v: 1 as const, ok: true as const, channel: q.channel, lessons: [] };
      },
      (e) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } }),
    );
    expect((await h.sandbox.slash("lessons")).text).toContain("none yet");
    expect(asked[0]?.channel).toBeTruthy();
    expect((await h.sandbox.slash("frobnicate")).text).toContain("I don't know the command `frobnicate`");
  });

  it("jobs answers before any GPU runner has ever started (the runners' bucket, which a runner makes, does not exist yet)", async () => {
    await using h = await startGatewayHarness();
    // Each service creates only what it owns: until a runner starts once, there is no mllead_runners bucket.
    await rawNats(h.lead).jsm.streams.delete(`KV_${BUCKETS.runners}`);
    const jobs = (await h.sandbox.slash("jobs")).text;
    expect(jobs).toContain("*Runners:* none is beating");
    expect(jobs).not.toContain("failed just now");
  });

  it("cancels a task by id or thread link with a cancel decision, like the Cancel button; refuses an unknown id", async () => {
    await using h = await startGatewayHarness();
    const { taskId, root } = await startTask(h);
    const byId = await h.sandbox.slash(`cancel ${taskId}`);
    expect(byId.text).toContain(`Asked the tech lead to cancel \`${taskId}\``);
    await vi.waitFor(() => expect(h.decides()).toHaveLength(1), WAIT);
    expect(h.decides()[0]).toMatchObject({ taskId, decision: "cancel", via: "slash", userId: h.sandbox.humanUserId });

    const link = `https://slack.com/archives/${root.channel}/p${root.ts.replace(".", "")}`;
    await h.sandbox.slash(`cancel ${link}`);
    await vi.waitFor(() => expect(h.decides()).toHaveLength(2), WAIT);
    expect(h.decides()[1]?.taskId).toBe(taskId);
    expect(h.decides()[1]?.decisionId).not.toBe(h.decides()[0]?.decisionId);

    expect((await h.sandbox.slash("cancel tNoSuchTask")).text).toContain("I know no task `tNoSuchTask`");
    expect((await h.sandbox.slash("cancel <!channel>")).text).not.toContain("<!channel>");
    expect(h.decides()).toHaveLength(2);
  });

  it("status asks the tech lead for this channel's tasks and the caller's, with each task's id for cancel", async () => {
    await using h = await startGatewayHarness();
    const { taskId, slack } = await startTask(h, "train <!channel> now");
    const queries = await serveStatus(h, () => [updatedEvent(taskId, 1, "executing", slack, "running").view]);
    const out = await h.sandbox.slash("status");
    expect(queries[0]).toMatchObject({ channel: slack.channel, userId: h.sandbox.humanUserId });
    expect(out.text).toContain(`\`${taskId}\``);
    expect(out.text).not.toContain("<!channel>");
  });
});

describe("slack-gateway: App Home and the message shortcut", () => {
  it("shows the person's active tasks, recent results, the runners and their GPUs, and how the workspace is set up", async () => {
    await using h = await startGatewayHarness();
    const { taskId, slack } = await startTask(h);
    await serveStatus(h, () => [
      updatedEvent(taskId, 1, "executing", slack, "running").view,
      { ...updatedEvent("tOld1", 1, "done", slack, "completed").view, text: "last week's model" },
    ]);
    await beat(h);
    await h.sandbox.openHome();
    await vi.waitFor(() => expect(h.sandbox.home()).toBeDefined(), WAIT);
    const home = JSON.stringify(h.sandbox.home()?.blocks);
    for (const want of [
      "Your active tasks (1)",
      "train a baseline",
      "Recent results",
      "last week's model",
      "gpu-host-1",
      "NVIDIA H100 80GB",
      "How this workspace is configured",
      "offline",
      "code-reviewer",
      "/mllead cancel",
      "Ask @mllead",
    ]) {
      expect(home).toContain(want);
    }
  });

  it("Ask @mllead on a message opens a box; what is asked becomes a task in that message's thread", async () => {
    await using h = await startGatewayHarness();
    const msg = await h.sandbox.say("val loss is flat after epoch 3", { user: "U0ALICE" });
    expect((await h.sandbox.shortcut(msg.ts, "mllead_ask")).status).toBe(200);
    await vi.waitFor(() => expect(h.sandbox.openViews()).toHaveLength(1), WAIT);
    const view = h.sandbox.openViews()[0];
    expect(view?.title.text).toBe("Ask @mllead");
    expect(JSON.stringify(view?.blocks)).toContain("val loss is flat after epoch 3");

    // Nothing typed: the box stays open and says what to do.
    const empty = await h.sandbox.submitView(view?.id as string, { instruction: "" });
    expect(empty.json).toMatchObject({ response_action: "errors" });
    expect(h.creates()).toHaveLength(0);

    await h.sandbox.submitView(view?.id as string, { instruction: "find out why and fix it" });
    await vi.waitFor(() => expect(h.creates()).toHaveLength(1), WAIT);
    const task = h.creates()[0];
    expect(task?.text).toContain("find out why and fix it");
    expect(task?.text).toContain("val loss is flat after epoch 3");
    expect(task?.text).toContain("<@U0ALICE>");
    expect(task?.requester.userId).toBe(h.sandbox.humanUserId);
    expect(task?.slack).toMatchObject({ channel: msg.channel, threadTs: msg.ts, messageTs: msg.ts });
    await vi.waitFor(() => expect(h.sandbox.message(msg.channel, msg.ts)?.reactions?.[0]?.name).toBe("eyes"), WAIT);
    // The thread now belongs to the task: its events land there.
    await emitEvent(
      h.lead,
      updatedEvent(
        task?.taskId as string,
        1,
        "executing",
        { channel: msg.channel, threadTs: msg.ts, messageTs: msg.ts },
        "running",
      ),
    );
    await vi.waitFor(() => expect(h.sandbox.thread(msg.channel, msg.ts).length).toBe(2), WAIT);
  });
});

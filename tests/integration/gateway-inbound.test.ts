import { emitEvent, StatusQuery, StatusReply, SUBJECTS, type TaskView, taskIdFor } from "@mllead/contracts";
import { describe, expect, it, vi } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "../helpers/gateway.js";
import { planEvent } from "./gateway-fixtures.js";

const WAIT = { timeout: 15_000, interval: 50 };

/** The one item of `list`; throws (so `vi.waitFor` tries again) while there is none, and when there are more. */
function only<T>(list: T[]): T {
  if (list.length !== 1) throw new Error(`expected exactly one, got ${list.length}`);
  return list[0] as T;
}

/** Waits for the plan message of `revision` in the thread of `root`. */
function waitForPlan(h: GatewayHarness, root: { channel: string; ts: string }, revision: number) {
  return vi.waitFor(() => {
    const found = h.sandbox.thread(root.channel, root.ts).find((m) => m.text.startsWith(`Plan revision ${revision}`));
    if (!found) throw new Error("no plan yet");
    return found;
  }, WAIT);
}

describe("slack-gateway: Slack input becomes commands on NATS", () => {
  it("a signed mention gets 👀 and one TaskCreate, even when Slack retries it", async () => {
    await using h = await startGatewayHarness();
    const { sandbox } = h;
    const sent = await sandbox.mention("train a churn baseline on the events table");
    expect(sent.status).toBe(200);

    const taskId = taskIdFor(sent.channel, sent.ts, sandbox.bot.teamId);
    await vi.waitFor(() => expect(h.creates()).toHaveLength(1), WAIT);
    expect(h.creates()[0]).toMatchObject({
      taskId,
      text: "train a churn baseline on the events table",
      requester: { userId: sandbox.humanUserId },
      slack: { channel: sent.channel, threadTs: sent.ts, messageTs: sent.ts },
    });
    expect(sandbox.message(sent.channel, sent.ts)?.reactions?.map((r) => r.name)).toEqual(["eyes"]);

    // Slack did not get the ack in time and sends the very same event again.
    const retry = await sandbox.retryEvent(sent.eventId, 1, "http_timeout");
    expect(retry.status).toBe(200);
    // The work-queue may already have handed the first one out; count what the stream ever stored.
    expect((await h.lead.streamState("MLLEAD_CMD")).lastSeq).toBe(1);
    expect(h.creates()).toHaveLength(1);
    expect(sandbox.message(sent.channel, sent.ts)?.reactions?.[0]?.count).toBe(1);
  });

  it("answers url_verification, refuses forged and stale signatures with 401 and keeps working", async () => {
    await using h = await startGatewayHarness();
    const { sandbox } = h;
    const verify = await sandbox.urlVerification("challenge-123");
    expect(verify.json).toEqual({ challenge: "challenge-123" });

    const body = JSON.stringify({ type: "event_callback", event_id: "EvForged", event: { type: "app_mention", text: "hi" } });
    expect((await sandbox.postSigned(body, "application/json", { signingSecret: "not-the-secret" })).status).toBe(401);
    const stale = Math.floor(Date.now() / 1000) - 60 * 10;
    expect((await sandbox.postSigned(body, "application/json", { timestampSec: stale })).status).toBe(401);

    const sent = await sandbox.mention("still here?");
    expect(sent.status).toBe(200);
    await vi.waitFor(() => expect(h.creates().map((c) => c.text)).toEqual(["still here?"]), WAIT);
    const health = await fetch(`${h.gatewayUrl}/healthz`);
    expect(health.status).toBe(200);
  });

  it("a bare mention gets help instead of a task", async () => {
    await using h = await startGatewayHarness();
    const sent = await h.sandbox.mention("");
    await vi.waitFor(() => expect(h.sandbox.thread(sent.channel, sent.ts)).toHaveLength(2), WAIT);
    expect(h.sandbox.thread(sent.channel, sent.ts)[1]?.text).toContain("Mention it with a task");
    await h.sandbox.retryEvent(sent.eventId);
    expect(h.sandbox.thread(sent.channel, sent.ts)).toHaveLength(2);
    expect(h.creates()).toEqual([]);
  });

  it("thread replies: bots, edits and chatter are ignored; 'approve' and 'changes: …' become decisions", async () => {
    await using h = await startGatewayHarness();
    const { sandbox } = h;
    const root = await sandbox.mention("tune the learning rate");
    await vi.waitFor(() => expect(h.creates()).toHaveLength(1), WAIT);
    const taskId = h.creates()[0]?.taskId;

    await sandbox.reply(root.ts, "approve", { user: sandbox.bot.userId, botId: sandbox.bot.botId });
    await sandbox.reply(root.ts, "approve", { user: "U0OTHERBOT", botId: "B0OTHER" });
    await sandbox.reply(root.ts, "approve", { subtype: "message_changed" });
    await sandbox.reply(root.ts, "nice, looking forward to it");
    const approve = await sandbox.reply(root.ts, "LGTM!", { user: "U0ALICE" });
    const changes = await sandbox.reply(root.ts, "changes: use AUC, not accuracy", { user: "U0BOB" });

    await vi.waitFor(() => expect(h.decides()).toHaveLength(2), WAIT);
    expect(h.decides()).toEqual([
      expect.objectContaining({ taskId, decision: "approve", userId: "U0ALICE", via: "reply", decisionId: approve.eventId }),
      expect.objectContaining({
        taskId,
        decision: "request_changes",
        feedback: "use AUC, not accuracy",
        decisionId: changes.eventId,
      }),
    ]);
  });

  it("plan buttons and a ✅ reaction on the plan send decisions carrying the plan revision", async () => {
    await using h = await startGatewayHarness();
    const { sandbox } = h;
    const root = await sandbox.mention("compare two models");
    await vi.waitFor(() => expect(h.creates()).toHaveLength(1), WAIT);
    const taskId = h.creates()[0]?.taskId as string;
    await emitEvent(h.lead, planEvent(taskId, 2));
    const plan = await vi.waitFor(() => {
      const found = sandbox.thread(root.channel, root.ts).find((m) => m.text.startsWith("Plan revision 2"));
      if (!found) throw new Error("no plan yet");
      return found;
    }, WAIT);

    expect((await sandbox.click(plan.ts, "mllead_approve", { user: "U0ALICE" })).status).toBe(200);
    await vi.waitFor(() => expect(h.decides()).toHaveLength(1), WAIT);
    expect(h.decides()[0]).toMatchObject({ taskId, decision: "approve", revision: 2, via: "button", userId: "U0ALICE" });

    // Request changes opens a box for Bob; closing it decides nothing.
    await sandbox.click(plan.ts, "mllead_request_changes", { user: "U0BOB" });
    const box = await vi.waitFor(() => only(sandbox.openViews("U0BOB")), WAIT);
    expect(box.title.text).toBe("Request changes");
    await sandbox.cancelView(box.id);
    expect(sandbox.openViews()).toEqual([]);

    await sandbox.react(plan.ts, "white_check_mark", { user: "U0CAROL" });
    await sandbox.react(plan.ts, "tada", { user: "U0CAROL" });
    // Reactions reach NATS through the gateway's durable inbox, clicks before their 200: a click made in the same
    // millisecond may overtake a reaction, so the click waits for the reaction's decision (a person's pace).
    await vi.waitFor(() => expect(h.decides()).toHaveLength(2), WAIT);
    await sandbox.click(plan.ts, "mllead_cancel", { user: "U0DAVE" });
    await vi.waitFor(() => expect(h.decides()).toHaveLength(3), WAIT);
    expect(h.decides().slice(1)).toEqual([
      expect.objectContaining({ decision: "approve", via: "reaction", userId: "U0CAROL", revision: 2 }),
      expect.objectContaining({ decision: "cancel", via: "button", userId: "U0DAVE", revision: 2 }),
    ]);
  });

  it("Request changes opens a box: empty gets an inline error, text becomes one TaskDecide, a retry counts once", async () => {
    await using h = await startGatewayHarness();
    const { sandbox } = h;
    const root = await sandbox.mention("compare two models");
    await vi.waitFor(() => expect(h.creates()).toHaveLength(1), WAIT);
    const taskId = h.creates()[0]?.taskId as string;
    await emitEvent(h.lead, planEvent(taskId, 2));
    const plan = await waitForPlan(h, root, 2);
    const storedCommands = async () => (await h.lead.streamState("MLLEAD_CMD")).lastSeq;

    expect((await sandbox.click(plan.ts, "mllead_request_changes", { user: "U0BOB" })).status).toBe(200);
    const view = await vi.waitFor(() => only(sandbox.openViews("U0BOB")), WAIT);
    expect(sandbox.calls("views.open")).toEqual([expect.objectContaining({ ok: true })]);
    expect(view).toMatchObject({
      callback_id: "mllead_changes",
      title: { text: "Request changes" },
      submit: { type: "plain_text" },
    });
    expect(JSON.parse(view.private_metadata)).toEqual({ taskId, revision: 2, channel: root.channel, threadTs: root.ts });
    expect(view.blocks).toContainEqual(
      expect.objectContaining({
        type: "input",
        label: expect.objectContaining({ text: "What should change?" }),
        element: expect.objectContaining({ type: "plain_text_input", multiline: true, max_length: 3000 }),
      }),
    );
    expect(sandbox.ephemerals(root.channel, "U0BOB")).toEqual([]);

    // Nothing typed (only spaces): Slack shows the error under the box, which stays open; nothing is sent.
    const empty = await sandbox.submitView(view.id, { feedback: "   " });
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({ response_action: "errors", errors: { changes: expect.stringContaining("what should change") } });
    expect(sandbox.openViews("U0BOB").map((v) => v.id)).toEqual([view.id]);
    expect(await storedCommands()).toBe(1);

    const sent = await sandbox.submitView(view.id, { feedback: "  use AUC, not accuracy\nand 25 epochs " });
    expect(sent.status).toBe(200);
    expect(sent.body).toBe("");
    expect(sandbox.openViews()).toEqual([]);
    await vi.waitFor(() => expect(h.decides()).toHaveLength(1), WAIT);
    expect(h.decides()[0]).toEqual(
      expect.objectContaining({
        taskId,
        decision: "request_changes",
        feedback: "use AUC, not accuracy\nand 25 epochs",
        revision: 2,
        via: "button",
        userId: "U0BOB",
        decisionId: `view:${view.id}`,
      }),
    );

    // The same submission delivered again (a double-click, a retry) is one decision.
    expect((await sandbox.submitView(view.id, { feedback: "use AUC, not accuracy" })).status).toBe(200);
    expect(await storedCommands()).toBe(2);
    expect(h.decides()).toHaveLength(1);
  });

  it("when the box cannot open because the trigger expired, the person is told to reply `changes: …`", async () => {
    await using h = await startGatewayHarness();
    const { sandbox } = h;
    const root = await sandbox.mention("compare two models");
    await vi.waitFor(() => expect(h.creates()).toHaveLength(1), WAIT);
    await emitEvent(h.lead, planEvent(h.creates()[0]?.taskId as string, 1));
    const plan = await waitForPlan(h, root, 1);

    // The app answered too late for Slack: every trigger id is already stale.
    sandbox.setTriggerTtl(0);
    expect((await sandbox.click(plan.ts, "mllead_request_changes", { user: "U0BOB" })).status).toBe(200);
    const hint = await vi.waitFor(() => only(sandbox.ephemerals(root.channel, "U0BOB")), WAIT);
    expect(sandbox.calls("views.open")).toEqual([expect.objectContaining({ ok: false, error: "expired_trigger_id" })]);
    expect(sandbox.openViews()).toEqual([]);
    expect(hint).toMatchObject({ thread_ts: root.ts, text: expect.stringContaining("changes:") });
    expect(h.decides()).toEqual([]);
  });

  it("/mllead: unknown commands get a clear error, status is answered from the tech lead, help explains", async () => {
    await using h = await startGatewayHarness();
    const { sandbox } = h;
    const nonsense = await sandbox.slash("nonsense");
    expect(nonsense.status).toBe(200);
    expect(nonsense.text).toContain("I don't know the command `nonsense`");
    expect(nonsense.text).toContain("/mllead status");
    expect(nonsense.text).toContain("/mllead help");

    // Nobody answers yet: a sentence, not a stack trace.
    const early = await sandbox.slash("status");
    expect(early.text).toContain("did not answer in time");

    const view: TaskView = {
      id: "tStatus1",
      text: "train a churn baseline",
      state: "executing",
      revision: 1,
      requester: "U0ALICE",
      slack: { channel: "C0GENERAL", threadTs: "1700000000.000100", messageTs: "1700000000.000100" },
      brain: "offline",
      steps: [
        { id: "s1", role: "data-engineer", title: "Clean", status: "completed", attempt: 1 },
        { id: "s2", role: "ml-engineer", title: "Train", status: "running", attempt: 1 },
      ],
      updatedAt: new Date().toISOString(),
    };
    await h.lead.serve(
      SUBJECTS.statusQuery,
      StatusQuery,
      StatusReply,
      async () => ({ v: 1 as const, ok: true as const, active: [view], recent: [] }),
      (e) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } }),
    );
    const status = await sandbox.slash("status");
    expect(status.text).toContain("Active tasks (1)");
    expect(status.text).toContain("executing");
    expect(status.text).toContain("1/2 steps done");
    expect(status.text).toContain("https://slack.com/archives/C0GENERAL/p1700000000000100");

    expect((await sandbox.slash("help")).text).toContain("Mention it with a task");
  });
});

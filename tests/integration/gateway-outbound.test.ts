import type { EventOf, TaskEvent } from "@mllead/contracts";
import { SUBJECTS } from "@mllead/contracts";
import { describe, expect, it, vi } from "vitest";
import { SlackStore } from "../../services/slack-gateway/src/store.js";
import { BOT_TOKEN, type GatewayHarness, startGatewayHarness } from "../helpers/gateway.js";
import { planEvent, updatedEvent } from "./gateway-fixtures.js";

const WAIT = { timeout: 15_000, interval: 50 };

/** Publishes an event WITHOUT a msgID, so JetStream stores and delivers it again: a true redelivery. */
async function publishAgain(h: GatewayHarness, e: TaskEvent): Promise<void> {
  const subject = SUBJECTS.event(e as TaskEvent & { stepId?: string; jobId?: string });
  await h.lead.js.publish(subject, JSON.stringify(e));
}

async function startTask(h: GatewayHarness, text = "train a baseline") {
  const root = await h.sandbox.mention(text);
  await vi.waitFor(() => expect(h.creates().length).toBeGreaterThan(0), WAIT);
  const taskId = h.creates().at(-1)?.taskId as string;
  const slack = { channel: root.channel, threadTs: root.ts, messageTs: root.ts };
  const thread = () => h.sandbox.thread(root.channel, root.ts).slice(1);
  return { root, taskId, slack, thread };
}

const at = () => new Date().toISOString();

describe("slack-gateway: task events become the thread", () => {
  it("shows the plan with buttons and one status card updated in place; a redelivered event posts once", async () => {
    await using h = await startGatewayHarness();
    const { taskId, slack, thread } = await startTask(h);

    await h.lead.emit(updatedEvent(taskId, 1, "planning", slack));
    const plan = planEvent(taskId, 1, "offline");
    await h.lead.emit(plan);
    await h.lead.emit(updatedEvent(taskId, 2, "awaiting_approval", slack));
    await publishAgain(h, plan);
    await h.lead.emit({
      v: 1,
      eventId: `${taskId}:approved`,
      taskId,
      at: at(),
      type: "task.approved",
      userId: "U0ALICE",
      via: "button",
    });

    await vi.waitFor(() => expect(thread().some((m) => m.text.includes("approved"))).toBe(true), WAIT);
    const messages = thread();
    // Card, plan, approval line: the redelivered plan did not post a second time.
    expect(messages).toHaveLength(3);
    const [card, planMsg] = messages;
    expect(card?.text).toContain("Status: awaiting approval");
    expect(JSON.stringify(card?.blocks)).toContain(":white_circle: *Clean events*");
    expect(h.sandbox.calls("chat.update").some((c) => c.args.ts === card?.ts)).toBe(true);

    const planBlocks = JSON.stringify(planMsg?.blocks);
    for (const want of [
      "mllead_approve",
      "mllead_request_changes",
      "mllead_cancel",
      "Clean events",
      "☐ no duplicate event ids",
    ]) {
      expect(planBlocks).toContain(want);
    }
    expect(planBlocks).toContain("offline brain");
    expect(planMsg?.metadata).toEqual({ event_type: "mllead_event", event_payload: { event_id: plan.eventId } });
  });

  it("after a crash between posting and recording, finds the message by its metadata instead of posting again", async () => {
    await using h = await startGatewayHarness();
    const { taskId, root, thread } = await startTask(h);
    const started: EventOf<"step.started"> = {
      v: 1,
      eventId: `${taskId}:s1:started:1`,
      taskId,
      at: at(),
      type: "step.started",
      stepId: "s1",
      role: "data-engineer",
      attempt: 1,
      title: "Clean events",
    };
    // What a crash leaves behind: the pending mark, and the message already in the thread.
    const store = await SlackStore.open(h.lead);
    await store.setPostMark(started.eventId, { state: "pending", channel: root.channel });
    const posted = await fetch(`${h.sandbox.apiUrl}chat.postMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${BOT_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        channel: root.channel,
        thread_ts: root.ts,
        text: "data-engineer started Clean events",
        metadata: { event_type: "mllead_event", event_payload: { event_id: started.eventId } },
      }),
    });
    expect(await posted.json()).toMatchObject({ ok: true });

    await h.lead.emit(started);
    await h.lead.emit({ v: 1, eventId: `${taskId}:failed`, taskId, at: at(), type: "task.failed", reason: "the data is gone" });
    await vi.waitFor(() => expect(thread().some((m) => m.text.includes("the data is gone"))).toBe(true), WAIT);
    expect(thread().filter((m) => m.text.includes("started Clean events"))).toHaveLength(1);
    expect((await store.postMark(started.eventId))?.state).toBe("posted");
  });

  it("one message per GPU job, updated in place with progress and always ending on the final state", async () => {
    // A long interval: the burst of progress collapses into one pending update, overtaken by the final state.
    await using h = await startGatewayHarness({ jobUpdateIntervalMs: 60_000 });
    const { taskId, thread } = await startTask(h);
    const job = { v: 1 as const, taskId, stepId: "s2", jobId: "jBaseline1" };
    await h.lead.emit({ ...job, eventId: "j:queued", at: at(), type: "job.queued", gpus: 1 });
    await h.lead.emit({
      ...job,
      eventId: "j:started",
      at: at(),
      type: "job.started",
      host: "gpu-1",
      runnerId: "r1",
      devices: ["0"],
    });
    for (let step = 1; step <= 5; step++) {
      await h.lead.emit({
        ...job,
        eventId: `j:progress:${step}`,
        at: at(),
        type: "job.progress",
        progress: { step, total: 10, metrics: { loss: 1 / step } },
      });
    }
    await h.lead.emit({
      ...job,
      eventId: "j:finished",
      at: at(),
      type: "job.finished",
      result: {
        outcome: "succeeded",
        exitCode: 0,
        signal: null,
        durationMs: 4200,
        metrics: { accuracy: 0.91 },
        artifacts: [],
        logTail: [],
        host: "gpu-1",
      },
    });
    await vi.waitFor(() => expect(thread()[0]?.text).toContain("succeeded"), WAIT);
    const messages = thread();
    expect(messages).toHaveLength(1);
    expect(JSON.stringify(messages[0]?.blocks)).toContain("`accuracy` 0.91");
    // Seven events, but throttled: the post, then only the final update.
    expect(h.sandbox.calls("chat.update").filter((c) => c.args.ts === messages[0]?.ts)).toHaveLength(1);
  });

  it("a refused decision is shown only to that person; a permanent Slack error is dropped without blocking the next event", async () => {
    await using h = await startGatewayHarness();
    const { taskId, root, thread } = await startTask(h);
    // A task whose thread is in a channel Slack does not know: channel_not_found is permanent.
    await h.lead.emit(
      updatedEvent("tGhost1", 1, "planning", {
        channel: "C0GONE",
        threadTs: "1700000000.000100",
        messageTs: "1700000000.000100",
      }),
    );
    await h.lead.emit({
      v: 1,
      eventId: `${taskId}:rejected:1`,
      taskId,
      at: at(),
      type: "task.decision_rejected",
      userId: "U0MALLORY",
      decision: "approve",
      reason: "only the requester or a lead may approve",
    });
    await vi.waitFor(
      () =>
        expect(
          h.sandbox
            .ephemerals(root.channel, "U0MALLORY")
            .map((e) => e.text)
            .join(),
        ).toContain("only the requester"),
      WAIT,
    );
    expect(h.sandbox.calls("chat.postMessage").some((c) => c.error === "channel_not_found")).toBe(true);
    expect(thread()).toHaveLength(0);
  });

  it("the final summary and the reviewer's verdict are posted, labelled as offline", async () => {
    await using h = await startGatewayHarness();
    const { taskId, thread } = await startTask(h);
    await h.lead.emit(planEvent(taskId, 1, "offline"));
    await h.lead.emit({
      v: 1,
      eventId: `${taskId}:s2:completed:1`,
      taskId,
      at: at(),
      type: "step.completed",
      stepId: "s2",
      role: "code-reviewer",
      attempt: 1,
      title: "Review",
      result: {
        status: "succeeded",
        summary: "Reviewed the cleaning code.",
        artifacts: [],
        metrics: {},
        filesChanged: [],
        criteria: [{ id: "ac1", criterion: "a verdict", met: true, evidence: "approve" }],
        verdict: {
          decision: "approve",
          summary: "Clean and reproducible.",
          findings: [{ severity: "minor", category: "type_hints", file: "clean.py", line: 3, message: "add return type" }],
          checks: [{ category: "data_leakage", passed: true, detail: "split by customer" }],
        },
      },
    });
    await h.lead.emit({
      v: 1,
      eventId: `${taskId}:completed`,
      taskId,
      at: at(),
      type: "task.completed",
      summary: "Cleaned the table and reviewed the code.",
      metrics: { duplicates_removed: 12 },
      artifacts: [],
      brain: "offline",
    });
    await vi.waitFor(() => expect(thread()).toHaveLength(3), WAIT);
    const [, review, done] = thread();
    const reviewText = JSON.stringify(review?.blocks);
    expect(reviewText).toContain("Code review: approved");
    expect(reviewText).toContain("Minor (1)");
    expect(reviewText).toContain("clean.py:3");
    expect(reviewText).toContain("offline brain");
    expect(JSON.stringify(done?.blocks)).toContain("Cleaned the table and reviewed the code.");
    expect(JSON.stringify(done?.blocks)).toContain("offline brain");
  });
});

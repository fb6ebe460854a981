import { rawNats } from "@mllead/bus/testing";
import { type EventOf, emitEvent, REVIEW_PITFALLS, SUBJECTS, type TaskEvent } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import type { SandboxMessage } from "@mllead/slack-sandbox";
import { describe, expect, it, vi } from "vitest";
import { OutboundStore } from "../../services/slack-gateway/src/outbound/outbound-store.js";
import { SlackStore } from "../../services/slack-gateway/src/store.js";
import { BOT_TOKEN, type GatewayHarness, startGatewayHarness } from "../helpers/gateway.js";
import { planEvent, updatedEvent } from "./gateway-fixtures.js";

const WAIT = { timeout: 15_000, interval: 50 };

/** Publishes an event WITHOUT a msgID, so JetStream stores and delivers it again: a true redelivery. */
async function publishAgain(h: GatewayHarness, e: TaskEvent): Promise<void> {
  const subject = SUBJECTS.event(e as TaskEvent & { stepId?: string; jobId?: string });
  await rawNats(h.lead).js.publish(subject, JSON.stringify(e));
}

async function startTask(h: GatewayHarness, text = "train a baseline") {
  const root = await h.sandbox.mention(text);
  await vi.waitFor(() => expect(h.creates().some((c) => c.slack.messageTs === root.ts)).toBe(true), WAIT);
  const taskId = h.creates().find((c) => c.slack.messageTs === root.ts)?.taskId as string;
  const slack = { channel: root.channel, threadTs: root.ts, messageTs: root.ts, teamId: h.sandbox.bot.teamId };
  const thread = () => h.sandbox.thread(root.channel, root.ts).slice(1);
  return { root, taskId, slack, thread };
}

const at = () => new Date().toISOString();
const keyOf = (m: SandboxMessage | undefined) => String(m?.metadata?.event_payload?.event_id ?? "");
const shown = (m: SandboxMessage | undefined) => `${m?.text ?? ""}\n${JSON.stringify(m?.blocks ?? [])}`;

function stepCompleted(taskId: string, over: Partial<EventOf<"step.completed">> = {}): EventOf<"step.completed"> {
  return {
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
        checks: REVIEW_PITFALLS.map((pitfall) => ({ pitfall, status: "pass" as const, evidence: "split by customer" })),
      },
    },
    ...over,
  };
}

describe("slack-gateway: task events become a thread people read at a glance", () => {
  it("shows a compact plan with every handoff one click away, thinks visibly while planning, and draws the status card as Slack's plan block, edited in place", async () => {
    await using h = await startGatewayHarness();
    const { taskId, slack, root, thread } = await startTask(h);

    // Planning: Slack's own "thinking" line under the thread, and no card yet (posting one would clear it).
    await emitEvent(h.lead, updatedEvent(taskId, 1, "planning", slack));
    await vi.waitFor(() => expect(h.sandbox.threadStatus(root.channel, root.ts)).toBe("is writing a plan…"), WAIT);
    expect(thread()).toHaveLength(0);

    const plan = planEvent(taskId, 1, "offline");
    await emitEvent(h.lead, plan);
    await emitEvent(h.lead, updatedEvent(taskId, 2, "awaiting_approval", slack));
    await publishAgain(h, plan);
    await vi.waitFor(() => expect(thread().map(keyOf)).toEqual([plan.eventId]), WAIT);
    // The plan post cleared the status, as Slack does when the app replies.
    expect(h.sandbox.threadStatus(root.channel, root.ts)).toBeUndefined();

    const [planMsg] = thread();
    const planText = shown(planMsg);
    for (const want of ["Clean events", "`data-engineer`", "Review", "after 1", "1 risk", "Details", "offline brain"]) {
      expect(planText).toContain(want);
    }
    for (const id of ["mllead_approve", "mllead_request_changes", "mllead_plan_details", "mllead_cancel"])
      expect(planText).toContain(id);
    // The full handoff is not in the message itself …
    expect(planText).not.toContain("Deduplicate and validate the events table");
    expect(planText).not.toContain("☐ no duplicate event ids");
    // … but one click away, in a modal.
    await h.sandbox.click(planMsg?.ts as string, "mllead_plan_details");
    await vi.waitFor(() => expect(h.sandbox.openViews()).toHaveLength(1), WAIT);
    const details = JSON.stringify(h.sandbox.openViews()[0]?.blocks);
    for (const want of [
      "Objective:",
      "Deduplicate and validate the events table",
      "☐ no duplicate event ids",
      "Next handoff:",
      "label leakage",
    ]) {
      expect(details).toContain(want);
    }

    // While the plan awaits approval the plan message is the whole story; the status card comes with the
    // work: Slack's plan block, its task cards moving as the steps do, in one message edited in place.
    const planBlock = () =>
      (thread()[1]?.blocks as { type: string; tasks?: { title: string; status: string }[] }[] | undefined)?.find(
        (b) => b.type === "plan",
      );
    await emitEvent(h.lead, updatedEvent(taskId, 3, "executing", slack, "pending"));
    await vi.waitFor(() => expect(thread().map(keyOf)).toEqual([plan.eventId, `card:${taskId}`]), WAIT);
    expect(planBlock()?.tasks?.map((t) => [t.title, t.status])).toEqual([
      ["Clean events", "pending"],
      ["Review", "pending"],
    ]);
    const card = thread()[1];
    await emitEvent(h.lead, updatedEvent(taskId, 4, "executing", slack, "running"));
    await vi.waitFor(() => expect(planBlock()?.tasks?.[0]?.status).toBe("in_progress"), WAIT);
    await emitEvent(h.lead, updatedEvent(taskId, 5, "executing", slack, "completed"));
    await vi.waitFor(() => expect(planBlock()?.tasks?.[0]?.status).toBe("complete"), WAIT);
    expect(thread()).toHaveLength(2);
    expect(h.sandbox.calls("chat.update").filter((c) => c.args.ts === card?.ts).length).toBeGreaterThanOrEqual(2);
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

    await emitEvent(h.lead, started);
    await emitEvent(h.lead, {
      v: 1,
      eventId: `${taskId}:failed`,
      taskId,
      at: at(),
      type: "task.failed",
      reason: "the data is gone",
    });
    await vi.waitFor(() => expect(thread().some((m) => m.text.includes("the data is gone"))).toBe(true), WAIT);
    expect(thread().filter((m) => m.text.includes("started Clean events"))).toHaveLength(1);
    expect((await store.postMark(started.eventId))?.state).toBe("posted");
  });

  it("one message per GPU job, edited at most once per interval and always ending on the final state", async () => {
    // A long interval: the burst of progress collapses into one pending update, overtaken by the final state.
    await using h = await startGatewayHarness({ jobUpdateIntervalMs: 60_000 });
    const { taskId, thread } = await startTask(h);
    const job = { v: 1 as const, taskId, stepId: "s2", jobId: "jBaseline1" };
    await emitEvent(h.lead, { ...job, eventId: "j:queued", at: at(), type: "job.queued", gpus: 1 });
    await vi.waitFor(() => expect(thread()).toHaveLength(1), WAIT);
    await emitEvent(h.lead, {
      ...job,
      eventId: "j:started",
      at: at(),
      type: "job.started",
      host: "gpu-1",
      runnerId: "r1",
      devices: ["0"],
    });
    for (let step = 1; step <= 5; step++) {
      await emitEvent(h.lead, {
        ...job,
        eventId: `j:progress:${step}`,
        at: at(),
        type: "job.progress",
        progress: { step, total: 10, metrics: { loss: 1 / step } },
      });
    }
    await emitEvent(h.lead, {
      ...job,
      eventId: "j:finished",
      at: at(),
      type: "job.finished",
      result: {
        outcome: "failed",
        exitCode: 1,
        signal: null,
        durationMs: 4200,
        metrics: { accuracy: 0.91 },
        artifacts: [],
        logTail: ["epoch 3 <!channel> see <https://evil.example|the docs> & more", "Traceback: boom"],
        host: "gpu-1",
      },
    });
    await vi.waitFor(() => expect(thread()[0]?.text).toContain("failed"), WAIT);
    const messages = thread();
    expect(messages).toHaveLength(1);
    const text = shown(messages[0]);
    expect(text).toContain("`accuracy` 0.91");
    // The log tail is the job's text: escaped, so it neither broadcasts nor hides a link.
    expect(text).toContain("&lt;!channel&gt;");
    expect(text).not.toContain("<!channel>");
    expect(text).not.toContain("<https://evil");
    // Seven events, but throttled: the post, then only the final update.
    expect(h.sandbox.calls("chat.update").filter((c) => c.args.ts === messages[0]?.ts)).toHaveLength(1);
  });

  it("a refused decision is shown only to that person; a message Slack refuses for good is set aside without holding up the next", async () => {
    await using h = await startGatewayHarness();
    const { taskId, root, thread } = await startTask(h);
    // A task whose thread is in a channel Slack does not know: channel_not_found is permanent.
    await emitEvent(
      h.lead,
      updatedEvent("tGhost1", 1, "executing", {
        channel: "C0GONE",
        threadTs: "1700000000.000100",
        messageTs: "1700000000.000100",
      }),
    );
    await emitEvent(h.lead, {
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
    await vi.waitFor(
      () => expect(h.sandbox.calls("chat.postMessage").some((c) => c.error === "channel_not_found")).toBe(true),
      WAIT,
    );
    const outbound = await OutboundStore.open(h.lead, createLogger("test", "silent"));
    await vi.waitFor(async () => {
      const aside = await outbound.setAsideEntries();
      expect(aside.map((a) => a.reason)).toContain("Slack refused it: channel_not_found");
    }, WAIT);
    expect(thread()).toHaveLength(0);
  });

  it("streams the summary with chatStream under the reviewer's verdict, labelled as offline", async () => {
    await using h = await startGatewayHarness();
    const { taskId, thread, slack } = await startTask(h);
    await emitEvent(h.lead, updatedEvent(taskId, 1, "planning", slack));
    await emitEvent(h.lead, planEvent(taskId, 1, "offline"));
    await emitEvent(h.lead, stepCompleted(taskId));
    const completed: EventOf<"task.completed"> = {
      v: 1,
      eventId: `${taskId}:completed`,
      taskId,
      at: at(),
      type: "task.completed",
      summary: "Cleaned the table and reviewed the code.\n\nThe baseline holds at 0.91 AUC.",
      metrics: { duplicates_removed: 12 },
      artifacts: [],
      brain: "offline",
    };
    await emitEvent(h.lead, completed);
    await vi.waitFor(() => expect(thread().map(keyOf)).toContain(completed.eventId), WAIT);
    const review = thread().find((m) => keyOf(m) === `${taskId}:s2:completed:1`);
    const reviewText = shown(review);
    expect(reviewText).toContain("Code review: approved");
    expect(reviewText).toContain("Minor (1)");
    expect(reviewText).toContain("clean.py:3");
    expect(reviewText).toContain("offline brain");
    // The summary came as Slack's streamed reply, to the person who asked, and ended with its facts.
    expect(h.sandbox.calls("chat.startStream")[0]?.args).toMatchObject({
      recipient_user_id: "U0HUMAN",
      recipient_team_id: "T0SANDBOX",
    });
    expect(h.sandbox.calls("chat.appendStream").length).toBeGreaterThanOrEqual(1);
    expect(h.sandbox.calls("chat.stopStream")).toHaveLength(1);
    const done = thread().find((m) => keyOf(m) === completed.eventId);
    const doneText = shown(done);
    expect(doneText).toContain("Cleaned the table and reviewed the code.");
    expect(doneText).toContain("The baseline holds at 0.91 AUC.");
    expect(doneText).toContain("`duplicates_removed` 12");
    expect(doneText).toContain("offline brain");
    // Redelivered: not streamed twice.
    await publishAgain(h, completed);
    await emitEvent(h.lead, { v: 1, eventId: `${taskId}:later`, taskId, at: at(), type: "task.failed", reason: "marker" });
    await vi.waitFor(() => expect(thread().some((m) => m.text.includes("marker"))).toBe(true), WAIT);
    expect(thread().filter((m) => keyOf(m) === completed.eventId)).toHaveLength(1);
    expect(h.sandbox.calls("chat.startStream")).toHaveLength(1);
  });

  it("posts the summary whole where Slack will not stream, and finishes a stream cut short without a second message", async () => {
    await using h = await startGatewayHarness();
    const { taskId, thread, slack, root } = await startTask(h);
    await emitEvent(h.lead, updatedEvent(taskId, 1, "planning", slack));
    await emitEvent(h.lead, planEvent(taskId, 1, "offline"));
    // appendStream fails once after the stream started: the retry ends the stream and completes it in place.
    let failAppend = true;
    h.sandbox.injectFault((method) => {
      if (method === "chat.appendStream" && failAppend) {
        failAppend = false;
        return "internal_error";
      }
      return null;
    });
    const completed = (id: string, summary: string): EventOf<"task.completed"> => ({
      v: 1,
      eventId: id,
      taskId,
      at: at(),
      type: "task.completed",
      summary,
      metrics: {},
      artifacts: [],
      brain: "offline",
    });
    await emitEvent(h.lead, completed(`${taskId}:completed`, "First part.\n\nSecond part."));
    // The retry ends the stream (which carries the summary's key from then on) and only then edits the whole
    // summary into it: the key alone does not say the summary is done. A later post of the thread waits for
    // every earlier one, so when it is there the summary's job has finished, retries and edit included.
    await emitEvent(h.lead, { v: 1, eventId: `${taskId}:later`, taskId, at: at(), type: "task.failed", reason: "marker" });
    await vi.waitFor(() => expect(thread().some((m) => m.text.includes("marker"))).toBe(true), WAIT);
    expect(thread().map(keyOf)).toEqual([`${taskId}:planned:1`, `${taskId}:completed`, `${taskId}:later`]);
    const whole = thread().filter((m) => shown(m).includes("First part."));
    expect(whole).toHaveLength(1);
    expect(shown(whole[0])).toContain("Second part.");
    expect(h.sandbox.calls("chat.appendStream").map((c) => c.error)).toContain("internal_error");

    // Where streaming is refused (here: no scope), the summary is posted as one message.
    h.sandbox.injectFault((method) => (method === "chat.startStream" ? "missing_scope" : null));
    const other = await h.sandbox.mention("another task", { channel: root.channel });
    await vi.waitFor(() => expect(h.creates().some((c) => c.slack.messageTs === other.ts)).toBe(true), WAIT);
    const t2 = h.creates().find((c) => c.slack.messageTs === other.ts)?.taskId as string;
    await emitEvent(h.lead, planEvent(t2, 1, "offline"));
    await emitEvent(h.lead, { ...completed(`${t2}:completed`, "Posted whole."), taskId: t2 });
    await vi.waitFor(
      () => expect(h.sandbox.thread(root.channel, other.ts).some((m) => keyOf(m) === `${t2}:completed`)).toBe(true),
      WAIT,
    );
    expect(h.sandbox.calls("chat.startStream").map((c) => c.error)).toEqual([undefined, "missing_scope"]);
    expect(h.sandbox.calls("chat.postMessage").some((c) => String(c.args.text).includes("Posted whole."))).toBe(true);
    // One post, whole: the refused stream left nothing behind.
    expect(h.sandbox.thread(root.channel, other.ts).slice(1).map(keyOf)).toEqual([`${t2}:planned:1`, `${t2}:completed`]);
  });
});

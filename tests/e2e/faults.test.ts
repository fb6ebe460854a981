import { Bus } from "@mllead/bus";
import { taskIdFor } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf, postKey } from "../helpers/thread.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

describe("@mllead survives SIGKILL of its services mid-task", () => {
  it("tech-lead, specialist-agent and slack-gateway each killed at a bad moment: the task finishes, no step completes twice, nothing posts twice", async () => {
    await using stack = await startStack();
    const { sandbox } = stack;
    const channel = sandbox.defaultChannel;
    const sent = await sandbox.mention("train an MLP on the churn table for 200 epochs and report it against the baseline");
    const taskId = taskIdFor(channel, sent.ts, sandbox.bot.teamId);
    const bus = await Bus.connect({ url: stack.nats.url, name: "observer", log });
    const events = await collectEvents(bus, taskId);
    const seen = (type: string, stepId?: string) =>
      events.some((e) => e.type === type && (!stepId || ("stepId" in e && e.stepId === stepId)));
    const thread = () => botMessages(sandbox.thread(channel, sent.ts));

    await waitFor(() => thread().some((m) => kindOf(m) === "task.planned"), 30_000, "the plan");
    // Approve by replying in the thread.
    expect((await sandbox.reply(sent.ts, "approve")).status).toBe(200);

    // The tech lead dies while it handles the data step's result (state written, outbox maybe not sent).
    await waitFor(() => seen("step.completed", "data"), 60_000, "data step done");
    await stack.kill("tech-lead");
    await stack.start("tech-lead");

    // The specialist dies while it waits for its training job on the GPU runner.
    await waitFor(() => seen("job.started"), 60_000, "the training job to start");
    await stack.kill("specialist-agent");
    await stack.start("specialist-agent");

    // The gateway dies while it renders the analysis result.
    await waitFor(() => seen("step.completed", "analyze"), 90_000, "analysis done");
    await stack.kill("slack-gateway");
    await stack.start("slack-gateway");

    await waitFor(() => thread().some((m) => kindOf(m) === "task.completed"), 120_000, "the final summary");
    await waitFor(() => seen("task.updated") && events.filter((e) => e.type === "task.completed").length === 1);

    // No step ran twice to completion, and the GPU job ran once.
    const completions = events
      .filter((e) => e.type === "step.completed")
      .map((e) => (e.type === "step.completed" ? e.stepId : ""));
    expect(completions.sort()).toEqual(["analyze", "data", "review", "train"]);
    expect(events.filter((e) => e.type === "job.finished")).toHaveLength(1);
    expect(
      new Set(events.filter((e) => e.type === "job.started").map((e) => (e.type === "job.started" ? e.jobId : ""))).size,
    ).toBe(1);
    // The events themselves are unique (every republish after a crash was deduplicated).
    const ids = events.map((e) => e.eventId);
    expect(new Set(ids).size).toBe(ids.length);

    // Nothing was posted twice in the thread, and everything a person should see is there once.
    const messages = thread();
    const keys = messages.map(postKey);
    expect(new Set(keys).size).toBe(keys.length);
    const count = (k: string) => messages.filter((m) => kindOf(m) === k).length;
    expect(count("card")).toBe(1);
    expect(count("task.planned")).toBe(1);
    expect(count("step.completed")).toBe(4);
    expect(count("job")).toBe(1);
    expect(count("task.completed")).toBe(1);
    await bus.close();
    // Its own budget, not the e2e default of 60 s: the specialist's step message comes back only after the step
    // consumer's 30 s ack wait (the killed process cannot nak it), so the run is ~35 s on a quiet machine and its
    // waits above allow up to 120 s for the summary on a loaded one.
  }, 180_000);
});

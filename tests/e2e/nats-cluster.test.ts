import { Bus } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import { STREAMS, SUBJECTS, type TaskEvent, taskIdFor } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { SERVICE_NAMES } from "@mllead/tools/services";
import { describe, expect, it } from "vitest";
import { startNatsCluster } from "../helpers/nats-cluster.js";
import { startStackOn } from "../helpers/stack.js";
import { botMessages, kindOf, postKey } from "../helpers/thread.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

const TASKS = [
  "train an MLP on the churn table for 200 epochs and report it against the baseline",
  "train a baseline on the churn table and compare it with last week's model",
  "train a gradient boosted model on the churn table and report it against the baseline",
];

/** Every event of a task once it has completed: as many as the events stream holds on the task's subjects. */
async function finalEvents(bus: Bus, taskId: string): Promise<TaskEvent[]> {
  const events = await collectEvents(bus, taskId);
  const info = await rawNats(bus).jsm.streams.info(STREAMS.events.name, { subjects_filter: SUBJECTS.taskEvents(taskId) });
  const stored = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  expect(stored).toBeGreaterThan(0);
  await waitFor(() => events.length >= stored, 30_000, `task ${taskId}'s ${stored} events`);
  return events;
}

describe("@mllead on a 3-node JetStream cluster (MLLEAD_STREAM_REPLICAS=3)", () => {
  it("three tasks finish while the steps stream's leader, then the meta leader, is SIGKILLed mid-task and restarted: nothing lost or doubled", async () => {
    await using cluster = await startNatsCluster();
    await using stack = await startStackOn(cluster, { MLLEAD_STREAM_REPLICAS: "3" });
    const { sandbox } = stack;
    const channel = sandbox.defaultChannel;
    for (const s of Object.values(STREAMS)) expect(await cluster.streamReplicas(s.name)).toBe(3);

    const sent: { ts: string; status: number }[] = [];
    for (const text of TASKS) sent.push(await sandbox.mention(text));
    const threads = () => sent.map((m) => botMessages(sandbox.thread(channel, m.ts)));
    const inAny = (kind: string) => threads().some((t) => t.some((m) => kindOf(m) === kind));

    for (const [i, m] of sent.entries()) {
      await waitFor(() => threads()[i]?.some((x) => kindOf(x) === "task.planned") === true, 60_000, `plan ${i}`);
      expect((await sandbox.reply(m.ts, "approve")).status).toBe(200);
    }

    // The leader of the steps stream dies while a job runs (steps in flight, acks owed), and comes back.
    await waitFor(() => inAny("job"), 90_000, "a training job");
    const stepsLeader = await cluster.streamLeader(STREAMS.steps.name);
    await cluster.kill(stepsLeader);
    expect(await cluster.streamLeader(STREAMS.steps.name)).not.toBe(stepsLeader);
    await cluster.start(stepsLeader);

    // The meta leader (stream and consumer placement) dies while the other steps run, and comes back.
    const meta = await cluster.metaLeader();
    await cluster.kill(meta);
    expect(await cluster.metaLeader()).not.toBe(meta);
    await cluster.start(meta);

    const allDone = () => threads().every((t) => t.some((m) => kindOf(m) === "task.completed"));
    await waitFor(allDone, 240_000, "every task's summary").catch((err: unknown) => {
      // What each thread shows and what the services complained of: the reason is in there.
      const shown = threads().map((t, i) => `task ${i}: ${t.map(kindOf).join(" ")}`);
      const complaints = SERVICE_NAMES.flatMap((n) =>
        stack
          .logs(n)
          .filter((l) => /"level":(40|50|60)/.test(l))
          .slice(-15),
      );
      throw new Error(`${(err as Error).message}\n${shown.join("\n")}\n${complaints.join("\n")}`, { cause: err });
    });

    const bus = await Bus.connect({ url: cluster.url, name: "observer", log });
    for (const [i, m] of sent.entries()) {
      const taskId = taskIdFor(channel, m.ts, sandbox.bot.teamId);
      const events = await finalEvents(bus, taskId);
      const planned = events.find((e) => e.type === "task.planned");
      const steps = planned?.type === "task.planned" ? planned.plan.steps.map((s) => s.id).sort() : [];
      expect(steps.length).toBeGreaterThan(0);
      // Every planned step completed exactly once, and each job ran once.
      const completions = events.flatMap((e) => (e.type === "step.completed" ? [e.stepId] : []));
      expect(completions.sort(), `task ${i}'s completed steps`).toEqual(steps);
      const started = events.flatMap((e) => (e.type === "job.started" ? [e.jobId] : []));
      const finished = events.flatMap((e) => (e.type === "job.finished" ? [e.jobId] : []));
      expect(new Set(started).size).toBe(started.length);
      expect(finished.sort()).toEqual([...new Set(started)].sort());
      expect(events.filter((e) => e.type === "task.completed")).toHaveLength(1);
      const ids = events.map((e) => e.eventId);
      expect(new Set(ids).size).toBe(ids.length);

      // In Slack: one summary per task, nothing posted twice.
      const thread = threads()[i] ?? [];
      expect(thread.filter((x) => kindOf(x) === "task.completed")).toHaveLength(1);
      const keys = thread.map(postKey);
      expect(new Set(keys).size).toBe(keys.length);
    }
    // The restarted nodes caught up: every stream is at 3 replicas again.
    for (const s of Object.values(STREAMS)) expect(await cluster.streamReplicas(s.name)).toBe(3);
    await bus.close();
  }, 420_000);
});

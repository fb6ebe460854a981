import { rawKv, rawNats } from "@mllead/bus/testing";
import { BUCKETS, emitEvent, type TaskRecord } from "@mllead/contracts";
import { testPlan, testStep, testTaskRecord } from "@mllead/contracts/testing";
import { describe, expect, it, vi } from "vitest";
import { startNatsServer } from "../helpers/nats-server.js";
import { connectBus, makeJob, queued, startTestRunner, submit, watchTask } from "./gpu-runner-helpers.js";

/** The tech lead's record of a task whose `train` step runs its attempt 1 (and whose `eval` step waits). */
function runningTask(taskId: string): TaskRecord {
  const now = new Date().toISOString();
  return testTaskRecord({
    id: taskId,
    text: "train",
    plan: testPlan([testStep("train", "ml-engineer"), testStep("eval", "analyst", { usesGpu: true })]),
    steps: {
      train: { status: "running", attempt: 1, startedAt: now, findings: [] },
      eval: { status: "pending", attempt: 1, findings: [] },
    },
    createdAt: now,
    updatedAt: now,
  });
}

describe("gpu-runner: a forged message neither runs nor stops a job of a task the tech lead knows", () => {
  it("a task.cancelled the task's record does not show stops nothing; a job no step attempt asked for never runs", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url);
    await using bus = await connectBus(nats.url);
    const job = makeJob({
      command: [
        "python3",
        "-c",
        "import time\nprint('::mllead-progress {\"step\": 1}', flush=True)\ntime.sleep(1.5)\nprint('trained')",
      ],
      gpus: 0,
    });
    const tasks = await rawKv(bus, BUCKETS.tasks);
    await tasks.put(job.taskId, JSON.stringify(runningTask(job.taskId)));
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 20_000 });
    // Anyone on NATS can say the task was cancelled; its record says it runs.
    rawNats(bus).nc.publish(`mllead.evt.task.${job.taskId}.task.cancelled`, JSON.stringify({ forged: true }));
    await emitEvent(bus, {
      v: 1,
      type: "task.cancelled",
      eventId: "forged-cancel",
      taskId: job.taskId,
      at: new Date().toISOString(),
      reason: "forged",
    });
    const finished = await watch.finished();
    expect(finished.result.outcome).toBe("succeeded");
    expect(finished.result.logTail).toEqual(["trained"]);

    // Jobs for the step's next attempt, for a step never dispatched, for a step not in the plan: none starts.
    const forged = [
      makeJob({ taskId: job.taskId, stepId: "train", attempt: 2, gpus: 0, command: ["python3", "-c", "print('forged')"] }),
      makeJob({ taskId: job.taskId, stepId: "eval", attempt: 1, gpus: 0, command: ["python3", "-c", "print('forged')"] }),
      makeJob({ taskId: job.taskId, stepId: "deploy", attempt: 1, gpus: 0, command: ["python3", "-c", "print('forged')"] }),
    ];
    for (const f of forged) await submit(bus, f);
    await vi.waitFor(async () => expect(await queued(bus)).toBe(0), { timeout: 20_000 });
    // A job after them runs, so every forged one was looked at.
    const after = makeJob({ taskId: job.taskId, gpus: 0, command: ["python3", "-c", "print('after')"] });
    const later = watchTask(bus, job.taskId);
    await submit(bus, after);
    await vi.waitFor(() => expect(later.of("job.finished").some((e) => e.jobId === after.jobId)).toBe(true), { timeout: 20_000 });
    const about = new Set([...watch.events, ...later.events].map((e) => ("jobId" in e ? e.jobId : "")));
    for (const f of forged) expect(about.has(f.jobId), f.stepId).toBe(false);
  });
});

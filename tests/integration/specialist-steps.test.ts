import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import {
  CONSUMERS,
  everyResource,
  lastEvent,
  OBJECT_STORE,
  ROLES,
  STREAMS,
  StepWork,
  SUBJECTS,
  type TaskEvent,
} from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../services/specialist-agent/src/app.js";
import { DEFAULT_SANDBOX, defaultToolSettings } from "../../services/specialist-agent/src/config.js";
import { acceptAnyWork } from "../../services/specialist-agent/src/dispatched-work.js";
import type { SpecialistSettings } from "../../services/specialist-agent/src/settings.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { stepWork, TestBrain } from "../helpers/specialist-test-brain.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

/** A nats-server, a provisioned bus, a workspace dir and the specialist app consuming every role. */
async function setup(sandbox?: SpecialistSettings["sandbox"]) {
  const nats = await startNatsServer();
  const workspaceDir = await mkdtemp(join(tmpdir(), "mllead-specialist-"));
  const bus = await Bus.connect({ url: nats.url, name: "specialist-test", log });
  await bus.setUp(everyResource(ROLES.map((r) => CONSUMERS.step(r))));
  const brain = new TestBrain();
  const app = buildApp({
    bus,
    brain,
    log,
    // No tech lead here: the steps these tests publish have no task record to be checked against.
    checkWork: acceptAnyWork,
    settings: {
      roles: [...ROLES],
      workspaceDir,
      stateDir: join(workspaceDir, ".state"),
      concurrency: 1,
      tools: defaultToolSettings({ PATH: process.env.PATH }),
      ...(sandbox ? { sandbox } : {}),
    },
  });
  const running = await app.start();
  return {
    bus,
    brain,
    workspaceDir,
    running,
    /** Resolves when the step queue is empty: every message acknowledged or terminated. */
    async drained() {
      await waitFor(async () => (await bus.streamState(STREAMS.steps.name)).messages === 0, 20_000, "an empty step queue");
    },
    async completedOrFailed(taskId: string, stepId: string) {
      const subjects = (["step.completed", "step.failed"] as const).map((type) => SUBJECTS.event({ type, taskId, stepId }));
      let found: TaskEvent | null = null;
      await waitFor(async () => {
        for (const s of subjects) found ??= await lastEvent(bus, s);
        return found !== null;
      });
      return found as TaskEvent | null;
    },
    async [Symbol.asyncDispose]() {
      await running.stop().catch(() => undefined);
      await bus.close();
      await nats[Symbol.asyncDispose]();
      await rm(workspaceDir, { recursive: true, force: true });
    },
  };
}

describe("specialist-agent carries out steps", () => {
  it("runs a data-engineer step in the task's git worktree: files, a commit on mllead/<task>, an artifact, events", async () => {
    await using env = await setup();
    const work = stepWork("t1", "data", "data-engineer");
    await env.bus.publish(SUBJECTS.stepWork("data-engineer"), StepWork, work, "dispatch-t1-data-1");
    const events = await collectEvents(env.bus, "t1");

    const done = await env.completedOrFailed("t1", "data");
    expect(done?.type).toBe("step.completed");
    await waitFor(() => events.length >= 3, 10_000, "three events");
    expect(events.map((e) => e.type)).toEqual(["step.started", "step.progress", "step.completed"]);

    // The step worked in its own worktree, removed once the step was reported (its commit is on the branch).
    expect(existsSync(join(env.workspaceDir, "t1", "data"))).toBe(false);
    if (done?.type !== "step.completed") throw new Error("unreachable");
    expect(done.result.summary).toBe("Wrote data/raw.csv with 2 rows");
    // The step's code is committed on the task's branch; data/ is ignored by the demo repository.
    expect(done.result.filesChanged).toEqual(["make_data.py"]);
    expect(done.result.git?.branch).toBe("mllead/t1");
    expect(done.result.git?.commits.map((c) => c.message)).toEqual(["mllead(data-engineer): data-engineer step"]);
    const started = events.find((e) => e.type === "step.started");
    expect(started).toMatchObject({ branch: "mllead/t1", sandbox: "bubblewrap" });
    const log = execFileSync("git", ["log", "--format=%s%n%b", "mllead/t1", "-1"], {
      cwd: join(env.workspaceDir, ".state", "demo-repo"),
    }).toString();
    expect(log).toContain("Mllead-Step: data");
    const [artifact] = done.result.artifacts;
    expect(artifact).toMatchObject({ name: "data/raw.csv", objectName: "tasks/t1/data/data/raw.csv", contentType: "text/csv" });
    const stored = await (await env.bus.objectStore(OBJECT_STORE)).getBlob("tasks/t1/data/data/raw.csv");
    expect(new TextDecoder().decode(stored ?? new Uint8Array())).toBe("x,y\n1,2\n3,4\n");
  });

  it("does not run an already-completed attempt again when the step is delivered twice", async () => {
    await using env = await setup();
    const work = stepWork("t2", "data", "data-engineer");
    // Two copies under different msgIDs (e.g. a re-published outbox entry after the dedupe window).
    await env.bus.publish(SUBJECTS.stepWork("data-engineer"), StepWork, work, "copy-1");
    await env.bus.publish(SUBJECTS.stepWork("data-engineer"), StepWork, work, "copy-2");
    await env.drained();
    await env.bus.publish(SUBJECTS.stepWork("data-engineer"), StepWork, work, "copy-3");
    await env.drained();

    expect(env.brain.runsOf(work)).toBe(1);
    const events = await collectEvents(env.bus, "t2");
    await waitFor(() => events.some((e) => e.type === "step.completed"), 10_000, "the completed event");
    expect(events.filter((e) => e.type === "step.completed")).toHaveLength(1);
    expect(events.filter((e) => e.type === "step.started")).toHaveLength(1);

    // A new attempt of the same step is real work and runs.
    const retry = stepWork("t2", "data", "data-engineer", { attempt: 2 });
    await env.bus.publish(SUBJECTS.stepWork("data-engineer"), StepWork, retry, "attempt-2");
    await env.drained();
    expect(env.brain.runsOf(retry)).toBe(1);
  });

  it("reports step.failed with a clear error when the brain's work fails (a path that leaves the workspace)", async () => {
    await using env = await setup();
    const work = stepWork("t3", "report", "analyst", { objective: "../../etc/passwd" });
    await env.bus.publish(SUBJECTS.stepWork("analyst"), StepWork, work, "t3-report-1");
    const done = await env.completedOrFailed("t3", "report");
    expect(done).toMatchObject({ type: "step.failed", attempt: 1, title: "analyst step" });
    expect(done?.type === "step.failed" && done.error).toBe("path '../../etc/passwd' leaves the task workspace");
  });

  it("terminates an invalid step message and keeps taking steps", async () => {
    await using env = await setup();
    const subject = SUBJECTS.stepWork("data-engineer");
    await rawNats(env.bus).js.publish(subject, "{not json");
    await rawNats(env.bus).js.publish(subject, JSON.stringify({ ...stepWork("bad id", "data", "data-engineer") }));
    // A step for another role on this role's queue can never be handled here either.
    await rawNats(env.bus).js.publish(subject, JSON.stringify(stepWork("t4", "other", "analyst")));
    await env.bus.publish(subject, StepWork, stepWork("t4", "data", "data-engineer"), "t4-data-1");

    const done = await env.completedOrFailed("t4", "data");
    expect(done?.type).toBe("step.completed");
    await env.drained();
    expect(await lastEvent(env.bus, SUBJECTS.event({ type: "step.started", taskId: "t4", stepId: "other" }))).toBeNull();
    expect(env.brain.runs.size).toBe(1);
  });

  it("where commands cannot run under bubblewrap, the step says so: a warning on its start and on its result", async () => {
    await using env = await setup({ ...DEFAULT_SANDBOX, mode: "process" });
    await env.bus.publish(SUBJECTS.stepWork("data-engineer"), StepWork, stepWork("t9", "data", "data-engineer"), "t9");
    const done = await env.completedOrFailed("t9", "data");
    if (done?.type !== "step.completed") throw new Error(`expected a completed step, got ${done?.type}`);
    expect(done.result.warnings?.[0]).toMatch(/bubblewrap is not available .*process sandbox only/);
    const events = await collectEvents(env.bus, "t9");
    await waitFor(() => events.some((e) => e.type === "step.started"), 10_000, "the start event");
    expect(events.find((e) => e.type === "step.started")).toMatchObject({
      sandbox: "process",
      warning: expect.stringMatching(/process sandbox/),
    });
  });

  it("an API that stays overloaded does not fail the step: it is redelivered and finishes", async () => {
    await using env = await setup();
    const work = stepWork("t10", "data", "data-engineer", { objective: "overloaded" });
    await env.bus.publish(SUBJECTS.stepWork("data-engineer"), StepWork, work, "t10");
    const done = await env.completedOrFailed("t10", "data");
    expect(done?.type).toBe("step.completed");
    expect(env.brain.runsOf(work)).toBe(2);
    const events = await collectEvents(env.bus, "t10");
    await waitFor(() => events.some((e) => e.type === "step.completed"), 10_000, "the events");
    expect(events.filter((e) => e.type === "step.failed")).toHaveLength(0);
  });

  it("a fix round that changes no file says so and reports no files, whatever its summary claims", async () => {
    await using env = await setup();
    const finding = {
      severity: "major" as const,
      category: "data_leakage" as const,
      message: "fit on train only",
      file: "README.md",
    };
    const work = { ...stepWork("t11", "analyze", "analyst", { objective: "README.md", attempt: 2 }), findings: [finding] };
    await env.bus.publish(SUBJECTS.stepWork("analyst"), StepWork, work, "t11");
    const done = await env.completedOrFailed("t11", "analyze");
    if (done?.type !== "step.completed") throw new Error(`expected a completed step, got ${done?.type}`);
    expect(done.result.filesChanged).toEqual([]);
    expect(done.result.git?.commits).toEqual([]);
    expect(done.result.warnings?.[0]).toMatch(
      /fix round changed no files, so none of the 1 finding\(s\) it was sent is addressed/,
    );
  });

  it("on shutdown finishes the step in hand and takes no new ones", async () => {
    await using env = await setup();
    const subject = SUBJECTS.stepWork("data-engineer");
    await env.bus.publish(subject, StepWork, stepWork("t5", "slow", "data-engineer", { objective: "sleep:1" }), "t5-slow");
    await waitFor(
      async () => (await lastEvent(env.bus, SUBJECTS.event({ type: "step.started", taskId: "t5", stepId: "slow" }))) !== null,
    );
    await env.running.stop();
    // stop() returned only after the step in hand reported its result.
    const done = await lastEvent(env.bus, SUBJECTS.event({ type: "step.completed", taskId: "t5", stepId: "slow" }));
    expect(done?.type).toBe("step.completed");
    await env.bus.publish(subject, StepWork, stepWork("t5", "later", "data-engineer"), "t5-later");
    expect((await env.bus.streamState(STREAMS.steps.name)).messages).toBe(1);
    expect(env.brain.runs.size).toBe(1);
  });
});

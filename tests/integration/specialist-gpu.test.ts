import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Bus } from "@mllead/bus";
import {
  CONSUMERS,
  emitEvent,
  everyResource,
  GpuJob,
  jobIdFor,
  lastEvent,
  ROLES,
  STREAMS,
  StepWork,
  SUBJECTS,
} from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../services/specialist-agent/src/app.js";
import { defaultToolSettings } from "../../services/specialist-agent/src/config.js";
import { acceptAnyWork } from "../../services/specialist-agent/src/dispatched-work.js";
import { jobIdForSpec, runGpuJob } from "../../services/specialist-agent/src/job-client.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { stepWork, TestBrain, TRAIN_JOB } from "../helpers/specialist-test-brain.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const settingsFor = (workspaceDir: string) => {
  const tools = defaultToolSettings({ PATH: process.env.PATH });
  return {
    roles: [...ROLES],
    workspaceDir,
    stateDir: join(workspaceDir, ".state"),
    concurrency: 1,
    tools: { ...tools, gpuWait: { ...tools.gpuWait, pollMs: 500 } },
  };
};

/**
 * The test plays the GPU runner: it takes jobs from `mllead.work.gpu`, and on
 * `finish` runs the job's command for real in a scratch directory and reports
 * `job.started` and `job.finished` with the metrics the script printed last.
 */
async function fakeRunner(bus: Bus, scratch: string, opts: { autoFinish: boolean }) {
  const jobs: GpuJob[] = [];
  const finish = async (job: GpuJob) => {
    const dir = join(scratch, job.jobId);
    await mkdir(dir, { recursive: true });
    for (const f of job.files) {
      await mkdir(dirname(join(dir, f.path)), { recursive: true });
      await writeFile(join(dir, f.path), f.content);
    }
    const [cmd, ...args] = job.command as [string, ...string[]];
    const { stdout } = await promisify(execFile)(cmd, args, { cwd: dir });
    const lines = stdout.trim().split("\n");
    const base = { v: 1 as const, taskId: job.taskId, stepId: job.stepId, jobId: job.jobId, at: new Date().toISOString() };
    await emitEvent(bus, {
      ...base,
      type: "job.started",
      eventId: `job.started:${job.jobId}`,
      host: "test",
      runnerId: "r1",
      devices: ["0"],
    });
    await emitEvent(bus, {
      ...base,
      type: "job.finished",
      eventId: `job.finished:${job.jobId}`,
      result: {
        outcome: "succeeded",
        exitCode: 0,
        signal: null,
        durationMs: 1,
        metrics: JSON.parse(lines.at(-1) ?? "{}") as Record<string, number>,
        artifacts: [],
        logTail: lines,
        host: "test",
      },
    });
  };
  await bus.consume(CONSUMERS.gpuRunner, GpuJob, async (job) => {
    jobs.push(job);
    if (opts.autoFinish) await finish(job);
  });
  return { jobs, finish };
}

async function setup(ackWaitSec = 30) {
  const nats = await startNatsServer();
  const scratch = await mkdtemp(join(tmpdir(), "mllead-specialist-gpu-"));
  const bus = await Bus.connect({ url: nats.url, name: "gpu-test", log });
  await bus.setUp(everyResource([...ROLES.map((r) => ({ ...CONSUMERS.step(r), ackWaitSec })), CONSUMERS.gpuRunner]));
  return {
    nats,
    bus,
    scratch,
    async [Symbol.asyncDispose]() {
      await bus.close();
      await nats[Symbol.asyncDispose]();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

describe("specialist-agent GPU steps", () => {
  it("submits a GPU job, waits for the runner and completes with the job's metrics", async () => {
    await using env = await setup();
    const runner = await fakeRunner(env.bus, env.scratch, { autoFinish: true });
    const app = buildApp({
      bus: env.bus,
      brain: new TestBrain(),
      log,
      checkWork: acceptAnyWork,
      settings: settingsFor(join(env.scratch, "ws")),
    });
    const running = await app.start();
    const events = await collectEvents(env.bus, "g1");
    await env.bus.publish(
      SUBJECTS.stepWork("ml-engineer"),
      StepWork,
      stepWork("g1", "train", "ml-engineer", { usesGpu: true }),
      "g1",
    );

    await waitFor(() => events.some((e) => e.type === "step.completed" || e.type === "step.failed"), 30_000, "the step result");
    await running.stop();
    const completed = events.find((e) => e.type === "step.completed");
    expect(completed?.type === "step.completed" && completed.result).toMatchObject({
      status: "succeeded",
      metrics: { accuracy: 0.91, loss: 0.3 },
      jobId: jobIdForSpec({ taskId: "g1", stepId: "train", attempt: 1 }, TRAIN_JOB),
    });
    expect(runner.jobs.map((j) => j.jobId)).toEqual([jobIdForSpec({ taskId: "g1", stepId: "train", attempt: 1 }, TRAIN_JOB)]);
    expect(runner.jobs[0]).toMatchObject({ taskId: "g1", stepId: "train", attempt: 1, gpus: 1, timeoutSec: 60 });
    expect(events.map((e) => e.type)).toEqual(["step.started", "job.queued", "job.started", "job.finished", "step.completed"]);
  });

  it("after the specialist dies mid-job, the redelivered step re-attaches instead of submitting again", async () => {
    await using env = await setup(2);
    const runner = await fakeRunner(env.bus, env.scratch, { autoFinish: false });
    const workspaceDir = join(env.scratch, "ws");
    const child: ChildProcess = spawn(
      process.execPath,
      ["--import", "tsx", join(root, "tests/helpers/specialist-process.ts"), env.nats.url, workspaceDir],
      { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
        child.once("exit", (code) => reject(new Error(`specialist process exited with ${code}`)));
      });
      const work = stepWork("g2", "train", "ml-engineer", { usesGpu: true });
      await env.bus.publish(SUBJECTS.stepWork("ml-engineer"), StepWork, work, "g2");
      const jobId = jobIdForSpec({ taskId: "g2", stepId: "train", attempt: 1 }, TRAIN_JOB);
      await waitFor(async () => runner.jobs.length === 1, 30_000, "the job to reach the runner");
      await waitFor(async () => (await lastEvent(env.bus, SUBJECTS.event({ type: "job.queued", taskId: "g2", jobId }))) !== null);

      // The specialist dies while the job runs; JetStream redelivers the step after its ack wait.
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;

      const brain = new TestBrain();
      const app = buildApp({ bus: env.bus, brain, log, checkWork: acceptAnyWork, settings: settingsFor(workspaceDir) });
      const running = await app.start();
      await waitFor(() => brain.runsOf(work) === 1, 30_000, "the step to be redelivered");
      const [job] = runner.jobs;
      if (!job) throw new Error("no job");
      await runner.finish(job);

      const done = SUBJECTS.event({ type: "step.completed", taskId: "g2", stepId: "train" });
      await waitFor(async () => (await lastEvent(env.bus, done)) !== null, 30_000, "step.completed");
      await running.stop();
      const completed = await lastEvent(env.bus, done);
      expect(completed?.type === "step.completed" && completed.result.metrics).toEqual({ accuracy: 0.91, loss: 0.3 });
      expect(runner.jobs).toHaveLength(1);
      // Exactly one job was ever stored on the GPU queue, and one job.queued event.
      expect((await env.bus.streamState(STREAMS.gpu.name)).lastSeq).toBe(1);
      const events = await collectEvents(env.bus, "g2");
      await waitFor(() => events.some((e) => e.type === "step.completed"), 10_000, "the events");
      expect(events.filter((e) => e.type === "job.queued")).toHaveLength(1);
      expect(events.filter((e) => e.type === "step.started")).toHaveLength(1);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  it("returns the result of a job that already finished without submitting it again", async () => {
    await using env = await setup();
    const runner = await fakeRunner(env.bus, env.scratch, { autoFinish: true });
    const owner = { taskId: "g3", stepId: "train", attempt: 1 };
    const jobId = jobIdFor("g3", "train", 1);
    const spec = { command: ["python3", "-c", "print('{\"accuracy\": 0.5}')"], timeoutSec: 60 };
    const first = await runGpuJob(env.bus, owner, jobId, spec, log, { pollMs: 500 });
    const again = await runGpuJob(env.bus, owner, jobId, spec, log, { pollMs: 500 });
    expect(first.result.metrics).toEqual({ accuracy: 0.5 });
    expect(again).toEqual(first);
    expect(runner.jobs).toHaveLength(1);
    expect((await env.bus.streamState(STREAMS.gpu.name)).lastSeq).toBe(1);
  });
});

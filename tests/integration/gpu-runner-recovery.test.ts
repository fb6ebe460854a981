import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUCKETS } from "@mllead/contracts";
import { createRegistry } from "@mllead/service-kit";
import { startService, stopService } from "@mllead/tools/services";
import { describe, expect, it, vi } from "vitest";
import { createRunner, JobClaim, RunnerConfig } from "../../services/gpu-runner/src/index.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { connectBus, cpuOnly, log, makeJob, queued, submit, watchTask } from "./gpu-runner-helpers.js";

/** A job that appends a line to RUNS each time it starts and then waits for the file GO (or returns at once). */
const RECORD_RUN = `
import os, time
with open(os.environ["RUNS"], "a") as f:
    f.write("run\\n")
print("::mllead-progress {\\"step\\": 1}")
go = os.environ.get("GO")
while go and not os.path.exists(go):
    time.sleep(0.02)
print("done")
`;

/** How many times the job started (the lines it appended). */
const runsOf = async (file: string) => (existsSync(file) ? (await readFile(file, "utf8")).split("\n").filter(Boolean).length : 0);

describe("gpu-runner recovers in seconds (real nats-server)", () => {
  it("a runner SIGKILLed mid-job and restarted with its id runs the job again from its claim, once, without the ack wait", async () => {
    await using nats = await startNatsServer();
    const tmp = await mkdtemp(join(tmpdir(), "mllead-resume-"));
    try {
      await using bus = await connectBus(nats.url);
      const env = {
        HOME: process.env.HOME ?? "/tmp",
        PATH: process.env.PATH ?? "",
        LOG_LEVEL: "info",
        NATS_URL: nats.url,
        RUNNER_ID: "cpu-host-7",
        MLLEAD_SANDBOX: "process",
        MLLEAD_NVIDIA_SMI: join(tmp, "no-nvidia-smi"),
        MLLEAD_JOBS_DIR: join(tmp, "jobs"),
        MLLEAD_HEARTBEAT_SEC: "1",
        // Far longer than this test may take: a rerun can only come from the restarted runner's claims.
        MLLEAD_ACK_WAIT_SEC: "600",
      };
      const runs = join(tmp, "runs");
      const go = join(tmp, "go");
      const job = makeJob({ files: [{ path: "job.py", content: RECORD_RUN }], env: { RUNS: runs, GO: go }, gpus: 0 });
      const watch = watchTask(bus, job.taskId);
      const first = startService("gpu-runner", env);
      await first.ready;
      await submit(bus, job);
      await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 30_000, interval: 50 });

      first.proc.kill("SIGKILL");
      await first.exited;
      const claims = await bus.kv(BUCKETS.jobs, JobClaim);
      expect((await claims.get(job.jobId))?.value).toMatchObject({ state: "running", run: 1, runnerId: "cpu-host-7" });

      const second = startService("gpu-runner", env);
      try {
        await second.ready;
        await vi.waitFor(() => expect(watch.of("job.started")).toHaveLength(2), { timeout: 30_000, interval: 50 });
        await writeFile(go, "");
        const finished = await watch.finished(30_000);
        expect(finished.result).toMatchObject({ outcome: "succeeded", logTail: ["done"] });
        expect(watch.of("job.started").map((e) => [e.eventId, e.runnerId])).toEqual([
          [`job.started:${job.jobId}:1`, "cpu-host-7"],
          [`job.started:${job.jobId}:2`, "cpu-host-7"],
        ]);
        expect(second.lines.join("\n")).toContain("resuming an interrupted job from its claim");
        expect((await claims.get(job.jobId))?.value).toMatchObject({ state: "finished", run: 2 });
        // The first run and the one rerun: the pending old delivery did not start a third.
        expect(await runsOf(runs)).toBe(2);
        expect(watch.of("job.finished")).toHaveLength(1);
      } finally {
        await stopService(second);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it("the old delivery of a resumed job is held until the resumed run ends, then acked: the job runs once", async () => {
    await using nats = await startNatsServer();
    const tmp = await mkdtemp(join(tmpdir(), "mllead-stale-"));
    try {
      await using bus = await connectBus(nats.url);
      const runs = join(tmp, "runs");
      const go = join(tmp, "go");
      const job = makeJob({ files: [{ path: "job.py", content: RECORD_RUN }], env: { RUNS: runs, GO: go }, gpus: 0 });
      // What a runner that died mid-job leaves: its running claim (with the job) and the job's delivery, unacked.
      const claims = await bus.kv(BUCKETS.jobs, JobClaim);
      await claims.create(job.jobId, {
        jobId: job.jobId,
        runnerId: "runner-r",
        host: "test-host",
        state: "running",
        run: 1,
        leaseAt: new Date().toISOString(),
        job,
      });
      await submit(bus, job);
      const watch = watchTask(bus, job.taskId);
      await using runner = await inProcessRunner(nats.url, tmp, "runner-r");
      await vi.waitFor(() => expect(watch.of("job.started")).toHaveLength(1), { timeout: 30_000, interval: 50 });
      // The delivery is in the runner's hand (not acked) while the resumed run goes on.
      await vi.waitFor(async () => expect(await bus.consumerState("MLLEAD_GPU", "gpu-runner")).toMatchObject({ ackPending: 1 }), {
        timeout: 30_000,
        interval: 50,
      });
      expect(await queued(bus)).toBe(1);
      await writeFile(go, "");
      const finished = await watch.finished(30_000);
      expect(finished.result.outcome).toBe("succeeded");
      await vi.waitFor(async () => expect(await queued(bus)).toBe(0), { timeout: 30_000, interval: 50 });
      expect(watch.of("job.started").map((e) => e.eventId)).toEqual([`job.started:${job.jobId}:2`]);
      expect(await runsOf(runs)).toBe(1);
      expect(await runner.metric("mllead_runner_jobs_resumed_total")).toBe(1);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it("a job waiting for the one busy slot is woken when that job's process ends, not polled", async () => {
    await using nats = await startNatsServer();
    const tmp = await mkdtemp(join(tmpdir(), "mllead-wake-"));
    try {
      await using bus = await connectBus(nats.url);
      await using runner = await inProcessRunner(nats.url, tmp, "runner-w");
      const go = join(tmp, "go");
      const a = makeJob({ files: [{ path: "job.py", content: RECORD_RUN }], env: { RUNS: join(tmp, "runs-a"), GO: go } });
      const b = makeJob({ files: [{ path: "job.py", content: RECORD_RUN }], env: { RUNS: join(tmp, "runs-b") } });
      const wa = watchTask(bus, a.taskId);
      const wb = watchTask(bus, b.taskId);
      await submit(bus, a);
      await vi.waitFor(() => expect(wa.of("job.started")).toHaveLength(1), { timeout: 30_000, interval: 50 });
      await submit(bus, b);
      // B is in the runner's hand, waiting for the slot A holds.
      await vi.waitFor(async () => expect(await bus.consumerState("MLLEAD_GPU", "gpu-runner")).toMatchObject({ ackPending: 2 }), {
        timeout: 30_000,
        interval: 50,
      });
      expect(wb.of("job.started")).toHaveLength(0);
      await writeFile(go, "");
      expect((await wb.finished(30_000)).result.outcome).toBe("succeeded");
      expect((await wa.finished(30_000)).result.outcome).toBe("succeeded");
      expect(await runner.metric("mllead_runner_device_wakeups_total")).toBe(1);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

/** An in-process runner (one CPU slot, no GPU) whose metrics the test reads. */
async function inProcessRunner(url: string, tmp: string, runnerId: string) {
  const bus = await connectBus(url);
  const registry = createRegistry("gpu-runner-test");
  const config = RunnerConfig.parse({
    RUNNER_ID: runnerId,
    MLLEAD_JOBS_DIR: join(tmp, "jobs"),
    MLLEAD_KILL_GRACE_MS: "500",
    MLLEAD_HEARTBEAT_SEC: "1",
    MLLEAD_SANDBOX: "process",
  });
  const runner = await createRunner({
    bus,
    log,
    registry,
    config: { ...config, MLLEAD_ACK_WAIT_SEC: 10 },
    host: "test-host",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" },
    inventory: cpuOnly,
  });
  return {
    metric: async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value,
    [Symbol.asyncDispose]: async () => {
      await runner.stop();
      await bus.close();
    },
  };
}

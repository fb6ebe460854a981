import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUCKETS } from "@mllead/contracts";
import { startService, stopService } from "@mllead/tools/services";
import { type SlurmCluster, startSlurmCluster } from "@mllead/tools/slurm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { JobClaim } from "../../services/gpu-runner/src/index.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { cancelTask, connectBus, makeJob, startTestRunner, submit, watchTask } from "./gpu-runner-helpers.js";
import { slurmEnv, slurmJobsOf, WAIT_FOR_GO } from "./gpu-runner-slurm-helpers.js";

describe("a gpu-runner on Slurm that stops or dies follows its Slurm jobs again (real one-node cluster, real nats-server)", () => {
  let cluster: SlurmCluster;
  beforeAll(async () => {
    cluster = await startSlurmCluster({ gpus: 2 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it("a runner stopped gracefully leaves its Slurm job running; started again, it follows it to the end", async () => {
    await using nats = await startNatsServer();
    const jobsDir = await mkdtemp(join(tmpdir(), "mllead-slurm-stop-"));
    try {
      await using bus = await connectBus(nats.url);
      const env = { ...slurmEnv(cluster), MLLEAD_JOBS_DIR: jobsDir };
      const job = makeJob({ files: [{ path: "job.py", content: WAIT_FOR_GO }], gpus: 0 });
      const watch = watchTask(bus, job.taskId);
      const first = await startTestRunner(nats.url, { runnerId: "login-2", env });
      await submit(bus, job);
      await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 60_000, interval: 50 });
      await first.stop();
      const claims = await bus.kv(BUCKETS.jobs, JobClaim);
      const claim = (await claims.get(job.jobId))?.value;
      expect(claim).toMatchObject({ state: "running", runnerId: "login-2", slurmJobId: expect.stringMatching(/^\d+$/) });
      expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[claim?.slurmJobId, "RUNNING", "N/A"]]);
      expect(watch.of("job.finished")).toHaveLength(0);

      await using _second = await startTestRunner(nats.url, { runnerId: "login-2", env });
      await writeFile(join(jobsDir, job.jobId, "work", "GO"), "");
      const r = (await watch.finished(60_000)).result;
      expect(r).toMatchObject({ outcome: "succeeded", logTail: ["before", "after"] });
      expect(watch.of("job.finished")).toHaveLength(1);
      expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[claim?.slurmJobId, "COMPLETED", "N/A"]]);
    } finally {
      await rm(jobsDir, { recursive: true, force: true });
    }
  });

  it("Slurm's own time limit ends a job no runner follows (TIMEOUT); the restarted runner reports it timed_out", async () => {
    await using nats = await startNatsServer();
    const jobsDir = await mkdtemp(join(tmpdir(), "mllead-slurm-limit-"));
    try {
      await using bus = await connectBus(nats.url);
      const env = { ...slurmEnv(cluster), MLLEAD_JOBS_DIR: jobsDir };
      // 60 s: Slurm's smallest limit (whole minutes), enforced by slurmctld within its 30 s check interval.
      const job = makeJob({ files: [{ path: "job.py", content: WAIT_FOR_GO }], gpus: 0, timeoutSec: 60 });
      const watch = watchTask(bus, job.taskId);
      const first = await startTestRunner(nats.url, { runnerId: "login-5", env });
      await submit(bus, job);
      await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 60_000, interval: 50 });
      await first.stop();
      const slurmJobId = (await (await bus.kv(BUCKETS.jobs, JobClaim)).get(job.jobId))?.value.slurmJobId;
      await vi.waitFor(async () => expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[slurmJobId, "TIMEOUT", "N/A"]]), {
        timeout: 150_000,
        interval: 1000,
      });
      await using _second = await startTestRunner(nats.url, { runnerId: "login-5", env });
      const r = (await watch.finished(60_000)).result;
      expect(r.outcome).toBe("timed_out");
      expect(r.durationMs).toBeGreaterThanOrEqual(60_000);
      expect(r.logTail[0]).toBe("before");
      expect(r.logTail).toContainEqual(
        expect.stringMatching(/^slurmstepd-localhost: error: \*\*\* JOB \d+ ON localhost CANCELLED AT .* DUE TO TIME LIMIT/),
      );
    } finally {
      await rm(jobsDir, { recursive: true, force: true });
    }
  }, 240_000);

  it("a task cancelled while its runner was down: the restarted runner cancels the Slurm job it follows again", async () => {
    await using nats = await startNatsServer();
    const jobsDir = await mkdtemp(join(tmpdir(), "mllead-slurm-cancel-down-"));
    try {
      await using bus = await connectBus(nats.url);
      const env = { ...slurmEnv(cluster), MLLEAD_JOBS_DIR: jobsDir };
      const job = makeJob({ files: [{ path: "job.py", content: WAIT_FOR_GO }], gpus: 1 });
      const watch = watchTask(bus, job.taskId);
      const first = await startTestRunner(nats.url, { runnerId: "login-4", env });
      await submit(bus, job);
      await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 60_000, interval: 50 });
      await first.stop();
      await cancelTask(bus, job.taskId, "while the runner was down");
      await using _second = await startTestRunner(nats.url, { runnerId: "login-4", env });
      const r = (await watch.finished(60_000)).result;
      expect(r.outcome).toBe("cancelled");
      expect(r.logTail.slice(0, 2)).toEqual(["before", "[mllead] the job was stopped before it finished"]);
      expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[expect.stringMatching(/^\d+$/), "CANCELLED", "gres:gpu:1"]]);
    } finally {
      await rm(jobsDir, { recursive: true, force: true });
    }
  });

  it("a runner that died between sbatch and recording the Slurm job finds it by name on restart and follows it", async () => {
    await using nats = await startNatsServer();
    const jobsDir = await mkdtemp(join(tmpdir(), "mllead-slurm-adopt-"));
    try {
      await using bus = await connectBus(nats.url);
      const job = makeJob({ command: ["python3", "-c", "print('never run')"], gpus: 0 });
      // What the runner left: its running claim without a Slurm job id, and the Slurm job it had submitted.
      const claims = await bus.kv(BUCKETS.jobs, JobClaim);
      await claims.create(job.jobId, {
        jobId: job.jobId,
        runnerId: "login-3",
        host: "login",
        state: "running",
        run: 1,
        leaseAt: new Date().toISOString(),
        job,
      });
      await mkdir(join(jobsDir, job.jobId, "artifacts"), { recursive: true });
      const out = join(jobsDir, job.jobId, "slurm.out");
      const id = (
        await cluster.cli("sbatch", [
          "--parsable",
          `--job-name=mllead-${job.jobId}`,
          `--output=${out}`,
          "--wrap=echo submitted-before-the-crash",
        ])
      ).trim();
      const watch = watchTask(bus, job.taskId);
      await using _runner = await startTestRunner(nats.url, {
        runnerId: "login-3",
        env: { ...slurmEnv(cluster), MLLEAD_JOBS_DIR: jobsDir },
      });
      const r = (await watch.finished(60_000)).result;
      expect(r).toMatchObject({ outcome: "succeeded", logTail: ["submitted-before-the-crash"] });
      expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[id, "COMPLETED", "N/A"]]);
      expect((await claims.get(job.jobId))?.value).toMatchObject({ state: "finished", run: 2 });
    } finally {
      await rm(jobsDir, { recursive: true, force: true });
    }
  });

  it("a runner SIGKILLed mid-job and restarted follows its Slurm job again: no second sbatch, one result", async () => {
    await using nats = await startNatsServer();
    const tmp = await mkdtemp(join(tmpdir(), "mllead-slurm-restart-"));
    try {
      await using bus = await connectBus(nats.url);
      const jobsDir = join(tmp, "jobs");
      const env = {
        HOME: process.env.HOME ?? "/tmp",
        PATH: process.env.PATH ?? "",
        LOG_LEVEL: "info",
        NATS_URL: nats.url,
        RUNNER_ID: "login-1",
        MLLEAD_SANDBOX: "process",
        MLLEAD_JOBS_DIR: jobsDir,
        MLLEAD_HEARTBEAT_SEC: "1",
        MLLEAD_ACK_WAIT_SEC: "600",
        ...slurmEnv(cluster),
      };
      const job = makeJob({ files: [{ path: "job.py", content: WAIT_FOR_GO }], gpus: 1 });
      const watch = watchTask(bus, job.taskId);
      const first = startService("gpu-runner", env);
      await first.ready;
      await submit(bus, job);
      await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 60_000, interval: 50 });
      const claims = await bus.kv(BUCKETS.jobs, JobClaim);
      const before = (await claims.get(job.jobId))?.value;
      expect(before).toMatchObject({ state: "running", run: 1, runnerId: "login-1", slurmJobId: expect.stringMatching(/^\d+$/) });

      first.proc.kill("SIGKILL");
      await first.exited;
      // The Slurm job does not depend on the runner: it is still running.
      expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[before?.slurmJobId, "RUNNING", "gres:gpu:1"]]);

      const second = startService("gpu-runner", env);
      try {
        await second.ready;
        await vi.waitFor(() => expect(second.lines.join("\n")).toContain("following the job's Slurm job again"), {
          timeout: 30_000,
          interval: 50,
        });
        await writeFile(join(jobsDir, job.jobId, "work", "GO"), "");
        const r = (await watch.finished(60_000)).result;
        expect(r).toMatchObject({ outcome: "succeeded", exitCode: 0, host: "localhost", logTail: ["before", "after"] });
        expect(watch.of("job.finished")).toHaveLength(1);
        expect(watch.of("job.started")).toHaveLength(1);
        expect((await claims.get(job.jobId))?.value).toMatchObject({ state: "finished", run: 2 });
        // One Slurm job: the restarted runner followed the one it had submitted.
        expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[before?.slurmJobId, "COMPLETED", "gres:gpu:1"]]);
        expect(existsSync(join(jobsDir, job.jobId))).toBe(false);
      } finally {
        await stopService(second);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

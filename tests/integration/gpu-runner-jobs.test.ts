import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rawNats } from "@mllead/bus/testing";
import { BUCKETS, OBJECT_STORE, SUBJECTS } from "@mllead/contracts";
import { describe, expect, it, vi } from "vitest";
import { JobClaim } from "../../services/gpu-runner/src/index.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { cancelTask, connectBus, isAlive, makeJob, queued, startTestRunner, submit, watchTask } from "./gpu-runner-helpers.js";

const TRAIN = `
import json, os, sys
import numpy as np
print("CUDA_VISIBLE_DEVICES=[%s]" % os.environ["CUDA_VISIBLE_DEVICES"])
print("ENV_NAMES=" + ",".join(sorted(os.environ)))
data = np.loadtxt("data/train.csv", delimiter=",")
rng = np.random.default_rng(0)
w = 0.0
for step in range(200):
    w += 0.5 * (data.mean() - w)
    loss = float((data.mean() - w) ** 2)
    print("::mllead-progress " + json.dumps({"step": step, "total": 200, "metrics": {"loss": loss}}))
print("::mllead-progress {broken")
out = os.environ["MLLEAD_ARTIFACTS_DIR"]
json.dump({"mean": float(w), "rows": int(data.size), "note": "text is ignored"}, open(os.path.join(out, "metrics.json"), "w"))
np.save(os.path.join(out, "weights.npy"), np.array([w]))
print("done")
`;

describe("gpu-runner runs jobs (in-process runner, real nats-server, real subprocesses)", () => {
  it("runs a training job: started, throttled progress, finished with metrics and artifacts readable from the Object Store", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url, {
      hostEnv: { PATH: process.env.PATH ?? "", HOME: "/tmp", SLACK_BOT_TOKEN: "xoxb-secret", NATS_URL: nats.url },
    });
    await using bus = await connectBus(nats.url);
    const os = await bus.objectStore(OBJECT_STORE);
    await os.putBlob({ name: "datasets/train.csv" }, new TextEncoder().encode("1\n2\n3\n4\n"));
    const job = makeJob({
      files: [{ path: "job.py", content: TRAIN }],
      inputs: [{ objectName: "datasets/train.csv", path: "data/train.csv" }],
    });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    const finished = await watch.finished();

    expect(watch.of("job.started")[0]).toMatchObject({ runnerId: "runner-1", host: "test-host", devices: [] });
    const r = finished.result;
    expect(r.outcome).toBe("succeeded");
    expect(r.exitCode).toBe(0);
    expect(r.metrics).toEqual({ mean: expect.closeTo(2.5, 5), rows: 4 });
    expect(r.logTail).toContain("CUDA_VISIBLE_DEVICES=[]");
    expect(r.logTail).toContain("::mllead-progress {broken");
    expect(r.logTail.at(-1)).toBe("done");
    const envNames = (r.logTail.find((l) => l.startsWith("ENV_NAMES=")) ?? "").slice(10).split(",");
    expect(envNames).toEqual(expect.arrayContaining(["PATH", "MLLEAD_JOB_ID", "MLLEAD_ARTIFACTS_DIR", "PYTHONUNBUFFERED"]));
    expect(envNames).not.toContain("SLACK_BOT_TOKEN");
    expect(envNames).not.toContain("NATS_URL");

    // Progress is throttled, and the last update is never dropped.
    const progress = watch.of("job.progress");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.length).toBeLessThan(50);
    expect(progress.at(-1)?.progress).toMatchObject({ step: 199, total: 200 });
    expect(watch.events.at(-1)?.type).toBe("job.finished");

    const names = r.artifacts.map((a) => a.name).sort();
    expect(names).toEqual(["job.log", "metrics.json", "weights.npy"]);
    const weights = r.artifacts.find((a) => a.name === "weights.npy");
    expect(weights?.objectName).toBe(`tasks/${job.taskId}/jobs/${job.jobId}/weights.npy`);
    const bytes = await os.getBlob(weights?.objectName ?? "");
    expect(bytes?.byteLength).toBe(weights?.bytes);
    expect(
      Buffer.from(bytes ?? [])
        .subarray(1, 6)
        .toString(),
    ).toBe("NUMPY");
    const logText = new TextDecoder().decode((await os.getBlob(`tasks/${job.taskId}/jobs/${job.jobId}/job.log`)) ?? undefined);
    expect(logText).toContain('::mllead-progress {"step": 199');
    expect(await queued(bus)).toBe(0);
  });

  it("stops a job past its timeout: timed_out, and its whole process group (a child too) is gone", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url);
    await using bus = await connectBus(nats.url);
    const pids = await mkdtemp(join(tmpdir(), "mllead-pids-"));
    try {
      const script = `
import os, signal, subprocess, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL after the grace stops it
child = subprocess.Popen(["sleep", "300"])
open(os.environ["PID_FILE"], "w").write("%d %d" % (os.getpid(), child.pid))
print("started", flush=True)
time.sleep(300)
`;
      // SIGTERM is ignored from the job's first instruction on (an ignored signal survives exec), not only once
      // python has started: on a loaded machine python can take longer to start than the timeout, and then the
      // SIGTERM would stop it before the grace this test is about.
      const job = makeJob({
        command: ["sh", "-c", "trap '' TERM; exec python3 job.py"],
        files: [{ path: "job.py", content: script }],
        timeoutSec: 5,
        env: { PID_FILE: join(pids, "pids") },
      });
      const watch = watchTask(bus, job.taskId);
      await submit(bus, job);
      const finished = await watch.finished();
      expect(finished.result.outcome).toBe("timed_out");
      expect(finished.result.signal).toBe("SIGKILL");
      expect(finished.result.logTail).toEqual(["started", "[mllead] timed out after 5s; the job's processes were stopped"]);
      const [leader, child] = (await readFile(join(pids, "pids"), "utf8")).split(" ").map(Number) as [number, number];
      await vi.waitFor(() => {
        expect(isAlive(leader)).toBe(false);
        expect(isAlive(child)).toBe(false);
      });
    } finally {
      await rm(pids, { recursive: true, force: true });
    }
  });

  it("reports a failing job (exit 3) as failed with its log tail, and a missing command or input as failed with the reason", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url);
    await using bus = await connectBus(nats.url);
    const failing = makeJob({
      files: [
        { path: "job.py", content: 'import sys\nprint("loading")\nsys.stderr.write("ValueError: bad shape\\n")\nsys.exit(3)\n' },
      ],
    });
    const noCmd = makeJob({ command: ["definitely-not-a-command-xyz"] });
    const noInput = makeJob({ inputs: [{ objectName: "missing/data.csv", path: "data.csv" }] });
    const watches = [failing, noCmd, noInput].map((j) => watchTask(bus, j.taskId));
    for (const j of [failing, noCmd, noInput]) await submit(bus, j);
    const [a, b, c] = await Promise.all(watches.map((w) => w.finished()));
    expect(a?.result).toMatchObject({ outcome: "failed", exitCode: 3 });
    expect(a?.result.logTail.sort()).toEqual(["ValueError: bad shape", "loading"]);
    expect(b?.result.outcome).toBe("failed");
    expect(b?.result.logTail.join("\n")).toContain("could not start definitely-not-a-command-xyz");
    expect(c?.result.outcome).toBe("failed");
    expect(c?.result.logTail.join("\n")).toContain("input 'missing/data.csv' is not in the object store");
  });

  it("runs a job delivered twice exactly once, even with two runners on the queue", async () => {
    await using nats = await startNatsServer();
    await using _r1 = await startTestRunner(nats.url, { runnerId: "runner-a" });
    await using _r2 = await startTestRunner(nats.url, { runnerId: "runner-b" });
    await using bus = await connectBus(nats.url);
    const dir = await mkdtemp(join(tmpdir(), "mllead-once-"));
    try {
      const count = join(dir, "runs.txt");
      await writeFile(count, "");
      const job = makeJob({
        files: [
          { path: "job.py", content: 'import os, time\nopen(os.environ["COUNT"], "a").write("ran\\n")\ntime.sleep(1.5)\n' },
        ],
        env: { COUNT: count },
      });
      const watch = watchTask(bus, job.taskId);
      await submit(bus, job, "first-publish");
      await submit(bus, job, "second-publish"); // a different msgID: JetStream keeps both
      await watch.finished();
      await vi.waitFor(async () => expect(await queued(bus)).toBe(0), { timeout: 45_000, interval: 200 });
      expect(await readFile(count, "utf8")).toBe("ran\n");
      expect(watch.of("job.started")).toHaveLength(1);
      expect(watch.of("job.finished")).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("frees a job's devices when publishing job.started fails (NATS electing a leader): the redelivered job runs", async () => {
    await using nats = await startNatsServer();
    await using runner = await startTestRunner(nats.url);
    await using bus = await connectBus(nats.url);
    const job = makeJob({ files: [{ path: "job.py", content: 'print("ran")\n' }] });
    // The runner's first job.started publish fails, as a publish does while the stream's leader is being replaced.
    const publish = runner.bus.publish.bind(runner.bus);
    let failed = 0;
    vi.spyOn(runner.bus, "publish").mockImplementation(async (subject, schema, value, msgId) => {
      if ((value as { type?: string }).type === "job.started" && failed++ === 0) throw new Error("TimeoutError: timeout");
      return publish(subject, schema, value, msgId);
    });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    const finished = await watch.finished();
    expect(failed).toBeGreaterThanOrEqual(2);
    expect(finished.result.outcome).toBe("succeeded");
    expect(finished.result.logTail).toContain("ran");
  });

  it("terminates an invalid job message and keeps working", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url);
    await using bus = await connectBus(nats.url);
    await rawNats(bus).js.publish(SUBJECTS.gpuJob, "{not json");
    await rawNats(bus).js.publish(SUBJECTS.gpuJob, JSON.stringify({ v: 1, jobId: "j bad", command: [] }));
    const job = makeJob({ command: ["python3", "-c", "print('still here')"] });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    expect((await watch.finished()).result).toMatchObject({ outcome: "succeeded", logTail: ["still here"] });
    await vi.waitFor(async () => expect(await queued(bus)).toBe(0), { timeout: 20_000, interval: 200 });
  });

  it("runs its own interrupted job again after a restart, and re-publishes a finished job's result instead of rerunning it", async () => {
    await using nats = await startNatsServer();
    await using bus = await connectBus(nats.url);
    const claims = await bus.kv(BUCKETS.jobs, JobClaim);
    const interrupted = makeJob({ command: ["python3", "-c", "print('second run')"] });
    // What a runner left behind when it died mid-job: its own running claim with a fresh lease.
    await claims.create(interrupted.jobId, {
      jobId: interrupted.jobId,
      runnerId: "runner-1",
      host: "test-host",
      state: "running",
      run: 1,
      leaseAt: new Date().toISOString(),
    });
    const finishedJob = makeJob({ command: ["python3", "-c", "raise SystemExit('must not run')"] });
    const stored = {
      outcome: "succeeded" as const,
      exitCode: 0,
      signal: null,
      durationMs: 5,
      metrics: { acc: 0.9 },
      artifacts: [],
      logTail: ["from before"],
      host: "h0",
    };
    await claims.create(finishedJob.jobId, {
      jobId: finishedJob.jobId,
      runnerId: "runner-0",
      host: "h0",
      state: "finished",
      run: 1,
      leaseAt: new Date().toISOString(),
      result: stored,
    });

    await using _runner = await startTestRunner(nats.url, { runnerId: "runner-1" });
    const w1 = watchTask(bus, interrupted.taskId);
    const w2 = watchTask(bus, finishedJob.taskId);
    await submit(bus, interrupted);
    await submit(bus, finishedJob);
    expect((await w1.finished()).result.logTail).toEqual(["second run"]);
    expect(w1.of("job.started")[0]?.eventId).toBe(`job.started:${interrupted.jobId}:2`);
    expect((await w2.finished()).result).toEqual(stored);
    expect(w2.of("job.started")).toHaveLength(0);
    expect((await claims.get(interrupted.jobId))?.value).toMatchObject({ state: "finished", run: 2, runnerId: "runner-1" });
  });

  it("stops a running job when its task is cancelled", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url);
    await using bus = await connectBus(nats.url);
    const job = makeJob({
      command: ["python3", "-c", "import time\nprint('training')\nprint('::mllead-progress {\"step\": 1}')\ntime.sleep(300)"],
    });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 20_000 });
    await cancelTask(bus, job.taskId);
    const finished = await watch.finished();
    expect(finished.result.outcome).toBe("cancelled");
    expect(finished.result.logTail).toEqual(["training", "[mllead] the job was stopped before it finished"]);
  });
});

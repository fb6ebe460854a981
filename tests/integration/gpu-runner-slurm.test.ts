import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OBJECT_STORE } from "@mllead/contracts";
import { type SlurmCluster, startSlurmCluster } from "@mllead/tools/slurm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startNatsServer } from "../helpers/nats-server.js";
import { needBubblewrap, testSandbox } from "../helpers/sandbox-mode.js";
import { cancelTask, connectBus, makeJob, queued, startTestRunner, submit, watchTask } from "./gpu-runner-helpers.js";
import { slurmEnv, slurmJobsOf, WAIT_FOR_GO } from "./gpu-runner-slurm-helpers.js";

const TRAIN = `
import json, os
print("CUDA_VISIBLE_DEVICES=[%s]" % os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
print("ENV_NAMES=" + ",".join(sorted(os.environ)))
w = 0.0
for step in range(50):
    w += 0.5 * (3.0 - w)
    print("::mllead-progress " + json.dumps({"step": step, "total": 50, "metrics": {"loss": (3.0 - w) ** 2}}))
out = os.environ["MLLEAD_ARTIFACTS_DIR"]
json.dump({"w": w}, open(os.path.join(out, "metrics.json"), "w"))
open(os.path.join(out, "model.txt"), "w").write("weights %f" % w)
print("done")
`;

// Bubblewrap unless the run says MLLEAD_SANDBOX=process (see sandbox-mode.ts).
const sandbox = await testSandbox();

describe("gpu-runner on Slurm (a real one-node cluster: munged, slurmctld, slurmd; real nats-server)", () => {
  let cluster: SlurmCluster;
  beforeAll(async () => {
    cluster = await startSlurmCluster({ gpus: 2 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it("runs a job as a Slurm batch job with its GPUs as GRES: started, progress, metrics, artifacts, the job env only", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url, {
      env: slurmEnv(cluster),
      hostEnv: { PATH: process.env.PATH ?? "", HOME: "/tmp", SLACK_BOT_TOKEN: "xoxb-secret", NATS_URL: nats.url },
    });
    await using bus = await connectBus(nats.url);
    const job = makeJob({ files: [{ path: "job.py", content: TRAIN }], gpus: 2 });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    const finished = await watch.finished(60_000);

    expect(watch.of("job.started")).toHaveLength(1);
    expect(watch.of("job.started")[0]).toMatchObject({ runnerId: "runner-1", host: "localhost", devices: [] });
    const r = finished.result;
    expect(r).toMatchObject({ outcome: "succeeded", exitCode: 0, host: "localhost" });
    expect(r.metrics).toEqual({ w: expect.closeTo(3, 3) });
    // Slurm gave the job both GPUs of the node; the job saw them through CUDA_VISIBLE_DEVICES.
    expect(r.logTail).toContain("CUDA_VISIBLE_DEVICES=[0,1]");
    const envNames = (r.logTail.find((l) => l.startsWith("ENV_NAMES=")) ?? "").slice(10).split(",");
    expect(envNames).toEqual(expect.arrayContaining(["PATH", "MLLEAD_JOB_ID", "MLLEAD_ARTIFACTS_DIR", "PYTHONUNBUFFERED"]));
    expect(envNames.filter((n) => n.startsWith("SLURM_") || n === "SLACK_BOT_TOKEN" || n === "NATS_URL")).toEqual([]);
    expect(r.logTail.at(-1)).toBe("done");

    const progress = watch.of("job.progress");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.progress).toMatchObject({ step: 49, total: 50 });
    expect(watch.events.at(-1)?.type).toBe("job.finished");

    expect(r.artifacts.map((a) => a.name).sort()).toEqual(["job.log", "metrics.json", "model.txt"]);
    const os = await bus.objectStore(OBJECT_STORE);
    const model = await os.getBlob(`tasks/${job.taskId}/jobs/${job.jobId}/model.txt`);
    expect(new TextDecoder().decode(model ?? undefined)).toMatch(/^weights 3\.0/);
    const logText = new TextDecoder().decode((await os.getBlob(`tasks/${job.taskId}/jobs/${job.jobId}/job.log`)) ?? undefined);
    expect(logText).toContain('::mllead-progress {"step": 49');

    expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[expect.stringMatching(/^\d+$/), "COMPLETED", "gres:gpu:2"]]);
    expect(await queued(bus)).toBe(0);
  });

  it("a job that exits non-zero fails with its exit code; a CPU job asks Slurm for no GPUs", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url, { env: slurmEnv(cluster) });
    await using bus = await connectBus(nats.url);
    const job = makeJob({
      command: ["python3", "-c", "import os, sys; print('no gpu', os.environ.get('CUDA_VISIBLE_DEVICES')); sys.exit(3)"],
      gpus: 0,
    });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    const r = (await watch.finished(60_000)).result;
    expect(r).toMatchObject({ outcome: "failed", exitCode: 3, signal: null });
    expect(r.logTail).toEqual(["no gpu "]);
    expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[expect.stringMatching(/^\d+$/), "FAILED", "N/A"]]);
  });

  it("cancels the Slurm job (scancel) when its task is cancelled", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url, { env: slurmEnv(cluster) });
    await using bus = await connectBus(nats.url);
    const job = makeJob({ files: [{ path: "job.py", content: WAIT_FOR_GO }], gpus: 1 });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 60_000, interval: 50 });
    await cancelTask(bus, job.taskId);
    const r = (await watch.finished(60_000)).result;
    expect(r.outcome).toBe("cancelled");
    expect(r.logTail).toEqual([
      "before",
      "[mllead] the job was stopped before it finished",
      // Slurm's own word, written into the job's output file by slurmstepd.
      expect.stringMatching(/^slurmstepd-localhost: error: \*\*\* JOB \d+ ON localhost CANCELLED AT /),
    ]);
    expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[expect.stringMatching(/^\d+$/), "CANCELLED", "gres:gpu:1"]]);
  });

  it("a job past its time limit is cancelled on the cluster and reported timed_out", async () => {
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url, { env: slurmEnv(cluster) });
    await using bus = await connectBus(nats.url);
    const job = makeJob({ files: [{ path: "job.py", content: WAIT_FOR_GO }], gpus: 0, timeoutSec: 2 });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    const r = (await watch.finished(60_000)).result;
    expect(r.outcome).toBe("timed_out");
    expect(r.logTail).toContain("[mllead] timed out after 2s; the Slurm job was cancelled");
    // Slurm's own "CANCELLED" line shows only when the batch step had started by then (not always, on a loaded host).
    for (const line of r.logTail)
      expect(line).toMatch(
        /^(before|\[mllead\] timed out after 2s; .*|slurmstepd-localhost: error: \*\*\* JOB \d+ ON localhost CANCELLED AT .*)$/,
      );
    expect(r.durationMs).toBeGreaterThanOrEqual(2000);
    expect(await slurmJobsOf(cluster, job.jobId)).toEqual([[expect.stringMatching(/^\d+$/), "CANCELLED", "N/A"]]);
  });

  it("under bubblewrap the batch script runs the job in the runner's sandbox; its environment never enters Slurm's copy of the script", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    await using nats = await startNatsServer();
    const secret = `hf_${Math.random().toString(36).slice(2)}`;
    const jobsDir = await mkdtemp(join(tmpdir(), "mllead-slurm-bwrap-"));
    try {
      await using _runner = await startTestRunner(nats.url, {
        env: {
          ...slurmEnv(cluster),
          MLLEAD_SANDBOX: "bubblewrap",
          MLLEAD_JOBS_DIR: jobsDir,
          MLLEAD_KEEP_JOB_DIRS: "1",
          MLLEAD_SANDBOX_ENV: "HF_TOKEN",
        },
        hostEnv: { PATH: "/usr/bin:/bin", HOME: "/tmp", HF_TOKEN: secret },
      });
      await using bus = await connectBus(nats.url);
      const script = [
        'echo "uid=$(id -u) home=$HOME cvd=[$CUDA_VISIBLE_DEVICES] token=$HF_TOKEN"',
        "ls /root >/dev/null 2>&1 && echo root-visible || echo root-hidden",
        "test -e ../job.sbatch && echo job-dir-visible || echo job-dir-hidden",
        'echo weights > "$MLLEAD_ARTIFACTS_DIR/a.txt"',
      ].join("\n");
      const job = makeJob({ command: ["/bin/sh", "-c", script], gpus: 1 });
      const watch = watchTask(bus, job.taskId);
      await submit(bus, job);
      const r = (await watch.finished(60_000)).result;
      const work = join(jobsDir, job.jobId, "work");
      expect(r).toMatchObject({ outcome: "succeeded", exitCode: 0 });
      expect(r.logTail).toEqual([`uid=65534 home=${work} cvd=[0] token=${secret}`, "root-hidden", "job-dir-hidden"]);
      expect(r.artifacts.map((a) => a.name).sort()).toEqual(["a.txt", "job.log"]);
      // sbatch keeps a copy of the script in Slurm's state; the job's variables stay in a private file beside it.
      const sbatch = await readFile(join(jobsDir, job.jobId, "job.sbatch"), "utf8");
      expect(sbatch).toContain("bwrap");
      expect(sbatch).not.toContain(secret);
      expect((await stat(join(jobsDir, job.jobId, "bwrap.args"))).mode & 0o077).toBe(0);
    } finally {
      await rm(jobsDir, { recursive: true, force: true });
    }
  });
});

import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BUCKETS } from "@mllead/contracts";
import { describe, expect, it, vi } from "vitest";
import { JobClaim, RunnerHeartbeat } from "../../services/gpu-runner/src/index.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { connectBus, isAlive, makeJob, startTestRunner, submit, watchTask } from "./gpu-runner-helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");

interface RunnerProcess extends AsyncDisposable {
  proc: ChildProcess;
  /** The health/metrics server, e.g. http://127.0.0.1:41234 */
  http: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `services/gpu-runner/src/main.ts` as its own process, as an operator would. */
async function startRunnerProcess(env: Record<string, string>): Promise<RunnerProcess> {
  const proc = spawn(process.execPath, ["--import", "tsx", "services/gpu-runner/src/main.ts"], {
    cwd: ROOT,
    // MLLEAD_SANDBOX=process: these jobs share files with the test in its tmp dir (see gpu-runner-helpers.ts).
    env: {
      HOME: process.env.HOME ?? "/tmp",
      PATH: process.env.PATH ?? "",
      PORT: "0",
      LOG_LEVEL: "info",
      MLLEAD_SANDBOX: "process",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const http = await vi.waitFor(
    () => {
      const m = /"address":"(http:\/\/[^"]+)".*gpu-runner ready/.exec(out);
      if (!m?.[1]) throw new Error(`runner not ready yet:\n${out}`);
      return m[1];
    },
    { timeout: 30_000, interval: 100 },
  );
  return {
    proc,
    http,
    output: () => out,
    exited,
    [Symbol.asyncDispose]: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await exited;
      }
    },
  };
}

const FAKE_SMI = `#!/bin/sh
cat <<'CSV'
0, GPU-11111111-aaaa-4bbb-8ccc-000000000000, NVIDIA H100 80GB HBM3, 81559, 1, 0
1, GPU-22222222-aaaa-4bbb-8ccc-111111111111, NVIDIA H100 80GB HBM3, 81559, 1, 0
CSV
`;

describe("gpu-runner as a process (tsx services/gpu-runner/src/main.ts)", () => {
  it("on a host with two GPUs (a fake nvidia-smi on PATH): jobs see their GPU by UUID, never share one, and too-big jobs fail", async () => {
    await using nats = await startNatsServer();
    const tmp = await mkdtemp(join(tmpdir(), "mllead-gpuhost-"));
    try {
      await mkdir(join(tmp, "bin"));
      await writeFile(join(tmp, "bin", "nvidia-smi"), FAKE_SMI);
      await chmod(join(tmp, "bin", "nvidia-smi"), 0o755);
      // The runner waits for the streams and buckets other services own: they exist before it starts.
      await using bus = await connectBus(nats.url);
      await using runner = await startRunnerProcess({
        NATS_URL: nats.url,
        PATH: `${join(tmp, "bin")}:${process.env.PATH ?? ""}`,
        RUNNER_ID: "gpu-host-1",
        MLLEAD_JOBS_DIR: join(tmp, "jobs"),
        MLLEAD_HEARTBEAT_SEC: "1",
      });

      const ready = await fetch(`${runner.http}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ok: true, checks: { nats: true, gpus: true, heartbeat: true } });
      const hb = await (await bus.kv(BUCKETS.runners, RunnerHeartbeat)).get("gpu-host-1");
      expect(hb?.value.gpus.map((g) => g.uuid)).toEqual([
        "GPU-11111111-aaaa-4bbb-8ccc-000000000000",
        "GPU-22222222-aaaa-4bbb-8ccc-111111111111",
      ]);

      const show = [
        "python3",
        "-c",
        "import os, time\nprint('CUDA_VISIBLE_DEVICES=' + os.environ['CUDA_VISIBLE_DEVICES'])\ntime.sleep(0.5)",
      ];
      const one = makeJob({ command: show, gpus: 1 });
      const tooBig = makeJob({ command: show, gpus: 3 });
      // Two jobs that each need both GPUs: each holds a lock file while it runs and says so if the other holds it.
      const lock = `
import os, time
print('CUDA_VISIBLE_DEVICES=' + os.environ['CUDA_VISIBLE_DEVICES'])
try:
    fd = os.open(os.environ['LOCK'], os.O_CREAT | os.O_EXCL)
except FileExistsError:
    print('SHARED A BUSY DEVICE')
    raise SystemExit(1)
time.sleep(1)
os.remove(os.environ['LOCK'])
`;
      const lockEnv = { LOCK: join(tmp, "both-gpus.lock") };
      const both1 = makeJob({ command: ["python3", "-c", lock], gpus: 2, env: lockEnv });
      const both2 = makeJob({ command: ["python3", "-c", lock], gpus: 2, env: lockEnv, taskId: both1.taskId });
      const w1 = watchTask(bus, one.taskId);
      const w2 = watchTask(bus, tooBig.taskId);
      const w3 = watchTask(bus, both1.taskId);
      for (const j of [one, tooBig, both1, both2]) await submit(bus, j);

      const f1 = await w1.finished();
      expect(w1.of("job.started")[0]?.devices).toHaveLength(1);
      const uuid = w1.of("job.started")[0]?.devices[0];
      expect(f1.result).toMatchObject({ outcome: "succeeded", logTail: [`CUDA_VISIBLE_DEVICES=${uuid}`] });
      expect(uuid).toMatch(/^GPU-/);

      const f2 = await w2.finished();
      expect(f2.result.outcome).toBe("failed");
      expect(f2.result.logTail).toEqual(["[mllead] the job asks for 3 GPUs but this host has 2"]);
      expect(w2.of("job.started")).toHaveLength(0);

      await vi.waitFor(() => expect(w3.of("job.finished")).toHaveLength(2), { timeout: 45_000, interval: 100 });
      for (const f of w3.of("job.finished")) {
        expect(f.result.outcome).toBe("succeeded");
        expect(f.result.logTail).toEqual([
          "CUDA_VISIBLE_DEVICES=GPU-11111111-aaaa-4bbb-8ccc-000000000000,GPU-22222222-aaaa-4bbb-8ccc-111111111111",
        ]);
      }

      // A job is counted after its job.finished is published: the counters are waited for, not read at once.
      await vi.waitFor(
        async () => {
          const metrics = await (await fetch(`${runner.http}/metrics`)).text();
          expect(metrics).toMatch(/mllead_runner_jobs_finished_total\{[^}]*outcome="succeeded"[^}]*\} 3/);
          expect(metrics).toMatch(/mllead_runner_jobs_finished_total\{[^}]*outcome="failed"[^}]*\} 1/);
        },
        { timeout: 10_000, interval: 100 },
      );
      const metrics = await (await fetch(`${runner.http}/metrics`)).text();
      expect(metrics).toMatch(/mllead_runner_gpus\{[^}]*\} 2/);
      // Every job that started was timed from its submission: the three that ran, not the one too big to start.
      expect(metrics).toMatch(/mllead_runner_job_queue_wait_seconds_count\{[^}]*\} 3/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it("on SIGTERM stops its running job (process group gone), releases it, and another runner runs it again", async () => {
    await using nats = await startNatsServer();
    const tmp = await mkdtemp(join(tmpdir(), "mllead-sigterm-"));
    try {
      // The runner waits for the streams and buckets other services own: they exist before it starts.
      await using bus = await connectBus(nats.url);
      await using runner = await startRunnerProcess({
        NATS_URL: nats.url,
        RUNNER_ID: "cpu-host-1",
        MLLEAD_NVIDIA_SMI: join(tmp, "no-nvidia-smi"),
        MLLEAD_JOBS_DIR: join(tmp, "jobs"),
        MLLEAD_KILL_GRACE_MS: "500",
        MLLEAD_HEARTBEAT_SEC: "1",
      });
      expect(runner.output()).toContain("CPU-only host");
      const script = `
import os, sys, time
marker = os.environ["MARKER"]
if os.path.exists(marker):
    print("second run")
    sys.exit(0)
open(marker, "w").write(str(os.getpid()))
print("::mllead-progress {\\"step\\": 1}")
time.sleep(300)
`;
      const job = makeJob({ files: [{ path: "job.py", content: script }], env: { MARKER: join(tmp, "marker") } });
      const watch = watchTask(bus, job.taskId);
      await submit(bus, job);
      await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 30_000, interval: 100 });
      const pid = Number(await readFile(join(tmp, "marker"), "utf8"));
      expect(isAlive(pid)).toBe(true);

      runner.proc.kill("SIGTERM");
      expect(await runner.exited).toBe(0);
      expect(isAlive(pid)).toBe(false);
      expect(watch.of("job.finished")).toHaveLength(0);
      const claim = await (await bus.kv(BUCKETS.jobs, JobClaim)).get(job.jobId);
      expect(claim?.value).toMatchObject({ state: "released", runnerId: "cpu-host-1" });
      expect(await (await bus.kv(BUCKETS.runners, RunnerHeartbeat)).get("cpu-host-1")).toBeNull();

      await using _other = await startTestRunner(nats.url, { runnerId: "cpu-host-2" });
      const finished = await watch.finished();
      expect(finished.result).toMatchObject({ outcome: "succeeded", logTail: ["second run"] });
      expect(watch.of("job.started").map((e) => e.runnerId)).toEqual(["cpu-host-1", "cpu-host-2"]);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it("after a SIGKILL mid-job, the restarted runner kills the job's leftover processes and runs the job once more", async () => {
    await using nats = await startNatsServer();
    const tmp = await mkdtemp(join(tmpdir(), "mllead-sigkill-"));
    try {
      const env = {
        NATS_URL: nats.url,
        RUNNER_ID: "cpu-host-9",
        MLLEAD_NVIDIA_SMI: join(tmp, "no-nvidia-smi"),
        MLLEAD_JOBS_DIR: join(tmp, "jobs"),
        MLLEAD_HEARTBEAT_SEC: "1",
        MLLEAD_ACK_WAIT_SEC: "2",
      };
      // The runner waits for the streams and buckets other services own: they exist before it starts.
      await using bus = await connectBus(nats.url);
      const first = await startRunnerProcess(env);
      // The job starts a child of its own, so the whole group must go, not just the leader.
      const script = `
import os, subprocess, sys, time
marker = os.environ["MARKER"]
if os.path.exists(marker):
    print("second run")
    sys.exit(0)
child = subprocess.Popen(["sleep", "300"])
open(marker, "w").write(f"{os.getpid()} {child.pid}")
print("::mllead-progress {\\"step\\": 1}")
time.sleep(300)
`;
      const job = makeJob({ files: [{ path: "job.py", content: script }], env: { MARKER: join(tmp, "marker") }, gpus: 0 });
      const watch = watchTask(bus, job.taskId);
      await submit(bus, job);
      await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 30_000, interval: 100 });
      const pids = (await readFile(join(tmp, "marker"), "utf8")).split(" ").map(Number);

      first.proc.kill("SIGKILL");
      await first.exited;
      // The runner died without cleaning up: its job's processes live on.
      for (const pid of pids) expect(isAlive(pid)).toBe(true);

      await using second = await startRunnerProcess(env);
      for (const pid of pids) await vi.waitFor(() => expect(isAlive(pid)).toBe(false), { timeout: 10_000, interval: 100 });
      expect(second.output()).toContain("killed processes of a job left behind by a runner that died");
      const finished = await watch.finished();
      expect(finished.result).toMatchObject({ outcome: "succeeded", logTail: ["second run"] });
      expect(watch.of("job.finished")).toHaveLength(1);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

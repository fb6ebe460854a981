import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { hostPythonWithNumpy } from "../helpers/host-python.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { needBubblewrap, testSandbox } from "../helpers/sandbox-mode.js";
import { connectBus, makeJob, startTestRunner, submit, watchTask } from "./gpu-runner-helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");
const SECRET = `sk-ant-FAKE-${Math.random().toString(36).slice(2)}`;
// Bubblewrap unless the run says MLLEAD_SANDBOX=process; each test below fails where it is missing, saying how to get it.
const sandbox = await testSandbox();

let tmp: string;
let data: string;
const py = hostPythonWithNumpy();
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "mllead-runner-sandbox-"));
  data = join(tmp, "data");
  await mkdir(data);
  await writeFile(join(data, "train.csv"), "1\n2\n3\n4\n");
  // What the sandbox must hide: a checkout's .env next to the jobs directory.
  await writeFile(join(tmp, ".env"), `ANTHROPIC_API_KEY=${SECRET}\n`);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Host pids whose command line holds `token`. */
function withToken(token: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(token);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The runner's settings for these tests: bubblewrap required, the data dir and the host's python read-only. */
const sandboxEnv = (jobsDir: string) => ({
  MLLEAD_SANDBOX: "bubblewrap",
  MLLEAD_JOBS_DIR: jobsDir,
  MLLEAD_DATA_DIRS: [data, ...py.dirs].join(","),
});

describe("gpu-runner jobs under bubblewrap", () => {
  it("a job sees its files, the data dir and numpy, writes artifacts, and cannot read the .env beside it or reach the host", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    await using nats = await startNatsServer();
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    await using _runner = await startTestRunner(nats.url, {
      env: sandboxEnv(join(tmp, "jobs-a")),
      hostEnv: { PATH: py.path, HOME: "/root" },
    });
    await using bus = await connectBus(nats.url);
    const script = `
import json, os, socket
import numpy as np
x = np.loadtxt(${JSON.stringify(join(data, "train.csv"))})
def attempt(what, f):
    try:
        f()
        print(what + ": allowed")
    except OSError as e:
        print(what + ": blocked")
attempt("secret", lambda: print(open(${JSON.stringify(join(tmp, ".env"))}).read()))
attempt("data-write", lambda: open(${JSON.stringify(join(data, "x"))}, "w"))
attempt("network", lambda: socket.create_connection(("127.0.0.1", ${port}), timeout=2))
print("home=" + os.environ["HOME"] + " cwd=" + os.getcwd())
json.dump({"mean": float(x.mean())}, open(os.path.join(os.environ["MLLEAD_ARTIFACTS_DIR"], "metrics.json"), "w"))
`;
    const job = makeJob({ files: [{ path: "job.py", content: script }], gpus: 0 });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    const r = (await watch.finished()).result;
    server.close();
    expect(r.outcome).toBe("succeeded");
    expect(r.metrics).toEqual({ mean: 2.5 });
    expect(r.logTail.slice(0, 3)).toEqual(["secret: blocked", "data-write: blocked", "network: blocked"]);
    expect(r.logTail.join("\n")).not.toContain(SECRET);
    const work = join(tmp, "jobs-a", job.jobId, "work");
    expect(r.logTail[3]).toBe(`home=${work} cwd=${work}`);
    expect(r.artifacts.map((a) => a.name).sort()).toEqual(["job.log", "metrics.json"]);
    expect(connections).toBe(0);
  });

  it("at the timeout the job gets SIGTERM and its grace, then SIGKILL, and nothing of it is left", async ({ skip }) => {
    needBubblewrap(sandbox, skip);
    await using nats = await startNatsServer();
    await using _runner = await startTestRunner(nats.url, {
      env: { ...sandboxEnv(join(tmp, "jobs-b")), MLLEAD_KILL_GRACE_MS: "1000" },
    });
    await using bus = await connectBus(nats.url);
    const token = `stubborn-${Math.random().toString(36).slice(2)}`;
    const polite = makeJob({
      command: ["sh", "-c", "trap 'echo saving checkpoint; exit 0' TERM; echo up; while :; do sleep 0.1; done"],
      timeoutSec: 1,
      gpus: 0,
    });
    const stubborn = makeJob({
      command: ["sh", "-c", `: ${token}; trap '' TERM; sh -c ': ${token}; sleep 300' & echo up; while :; do sleep 0.1; done`],
      timeoutSec: 1,
      gpus: 0,
    });
    const w1 = watchTask(bus, polite.taskId);
    const w2 = watchTask(bus, stubborn.taskId);
    await submit(bus, polite);
    const r1 = (await w1.finished()).result;
    expect(r1.outcome).toBe("timed_out");
    expect(r1.logTail).toContain("saving checkpoint");
    expect(r1.logTail.at(-1)).toBe("[mllead] timed out after 1s; the job's processes were stopped");
    await submit(bus, stubborn);
    expect((await w2.finished()).result).toMatchObject({ outcome: "timed_out", signal: "SIGKILL" });
    expect(withToken(token)).toEqual([]);
  });

  it("a job gets none of the runner's environment: a canary, DATABASE_URL and MLFLOW_TRACKING_URI show in neither env, /proc nor os.environ", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    await using nats = await startNatsServer();
    const canary = `canary-${Math.random().toString(36).slice(2)}`;
    // Streams and buckets first: a runner waits for those other services own.
    await using bus = await connectBus(nats.url);
    // The runner as its own process, with these in its real environment (/proc/<pid>/environ on the host).
    const runner = await startRunnerProcess({
      ...sandboxEnv(join(tmp, "jobs-env")),
      NATS_URL: nats.url,
      RUNNER_ID: "env-host",
      MLLEAD_NVIDIA_SMI: join(tmp, "no-nvidia-smi"),
      MLLEAD_TEST_CANARY: canary,
      DATABASE_URL: `postgres://ml:${canary}@db:5432/ml`,
      MLFLOW_TRACKING_URI: `https://ml:${canary}@mlflow.example`,
      TEAM_SEED: "42",
      MLLEAD_SANDBOX_ENV: "TEAM_SEED",
    });
    try {
      expect(readFileSync(`/proc/${runner.proc.pid}/environ`, "utf8")).toContain(canary);
      // The start log names what jobs get, never a value.
      expect(runner.output()).toMatch(/"names":\["HOME","PATH","TEAM_SEED"\].*jobs get these host variables/);
      const probe = [
        "env",
        "echo ---",
        "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done",
        "echo ---",
        "python3 -c 'import os; print(sorted(os.environ.items()))'",
      ].join("; ");
      // The model's own env for its job passes, but not an MLLEAD_* name: that is the runner's.
      const job = makeJob({ command: ["sh", "-c", probe], env: { LR: "0.1", MLLEAD_JOB_ID: "someone-else" }, gpus: 0 });
      const watch = watchTask(bus, job.taskId);
      await submit(bus, job);
      const r = (await watch.finished()).result;
      expect(r.outcome).toBe("succeeded");
      const log = r.logTail.join("\n");
      expect(log).not.toContain(canary);
      expect(log).not.toMatch(/DATABASE_URL|MLFLOW_TRACKING_URI|MLLEAD_TEST_CANARY|someone-else/);
      expect(r.logTail).toContain("TEAM_SEED=42");
      expect(r.logTail).toContain("LR=0.1");
      expect(r.logTail).toContain(`MLLEAD_JOB_ID=${job.jobId}`);
      expect(log).toContain("('TEAM_SEED', '42')");
    } finally {
      runner.proc.kill("SIGKILL");
      await runner.exited;
    }
  });

  it("when the runner is SIGKILLed its jobs' sandboxes die with it, and the restarted runner runs the job again", async ({
    skip,
  }) => {
    needBubblewrap(sandbox, skip);
    await using nats = await startNatsServer();
    const jobsDir = join(tmp, "jobs-c");
    const env = { ...sandboxEnv(jobsDir), NATS_URL: nats.url, RUNNER_ID: "cpu-host-7", MLLEAD_HEARTBEAT_SEC: "1" };
    // Streams and buckets first: a runner waits for those other services own.
    await using bus = await connectBus(nats.url);
    const first = await startRunnerProcess({ ...env, MLLEAD_NVIDIA_SMI: join(tmp, "no-nvidia-smi"), MLLEAD_ACK_WAIT_SEC: "2" });
    expect(first.output()).toContain("jobs run in a bubblewrap sandbox");
    const token = `rerun-${Math.random().toString(36).slice(2)}`;
    // Ends at a fixed time: the first run is killed long before it, the second run reaches it.
    const deadline = Date.now() / 1000 + 10;
    const script = `import time\nprint("::mllead-progress {\\"step\\": 1}", flush=True)\ntime.sleep(max(0, ${deadline} - time.time()))\nprint("finished")`;
    const job = makeJob({ command: ["python3", "-c", `# ${token}\n${script}`], gpus: 0 });
    const watch = watchTask(bus, job.taskId);
    await submit(bus, job);
    await vi.waitFor(() => expect(watch.of("job.progress")).toHaveLength(1), { timeout: 30_000, interval: 100 });
    expect(withToken(token).length).toBeGreaterThan(0);

    first.proc.kill("SIGKILL");
    await first.exited;
    // --die-with-parent: bwrap and everything in its pid namespace go with the runner, before any restart.
    await vi.waitFor(() => expect(withToken(token)).toEqual([]), { timeout: 3000, interval: 50 });

    await using _second = await startTestRunner(nats.url, { runnerId: "cpu-host-7", env: sandboxEnv(jobsDir) });
    const finished = await watch.finished(30_000);
    expect(finished.result).toMatchObject({ outcome: "succeeded", logTail: ["finished"] });
    expect(watch.of("job.started").map((e) => e.eventId)).toEqual([`job.started:${job.jobId}:1`, `job.started:${job.jobId}:2`]);
  });
});

describe("gpu-runner without bubblewrap", () => {
  it("refuses to start when MLLEAD_SANDBOX=bubblewrap, and says why", async () => {
    await using nats = await startNatsServer();
    // A bwrap that is not there stands for a host without bubblewrap, so this runs on every host.
    const env = { ...sandboxEnv(join(tmp, "jobs-d")), MLLEAD_BWRAP: join(tmp, "no-such-bwrap") };
    await expect(startTestRunner(nats.url, { env })).rejects.toThrow(/bubblewrap is required.*does not exist/);
  });

  it("as a process: exits non-zero at start, before taking any job, with one fatal line naming the cause and the fix", async () => {
    await using nats = await startNatsServer();
    await using _bus = await connectBus(nats.url);
    // /bin/false stands for a bwrap that is installed but cannot make a sandbox (a container without user namespaces).
    const proc = spawn(process.execPath, ["--import", "tsx", "services/gpu-runner/src/main.ts"], {
      cwd: ROOT,
      env: {
        HOME: "/root",
        PATH: py.path,
        PORT: "0",
        LOG_LEVEL: "info",
        NATS_URL: nats.url,
        MLLEAD_SANDBOX: "bubblewrap",
        MLLEAD_BWRAP: "/bin/false",
        MLLEAD_JOBS_DIR: join(tmp, "jobs-e"),
        MLLEAD_NVIDIA_SMI: join(tmp, "no-nvidia-smi"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const { code, output } = await exitOf(proc);
    expect(code).not.toBe(0);
    expect(output).not.toContain("gpu-runner ready");
    const fatal = output.split("\n").find((l) => l.includes('"level":60'));
    expect(fatal).toBeDefined();
    expect(JSON.parse(fatal ?? "{}").msg).toMatch(
      /^gpu-runner could not start: bubblewrap is required \(MLLEAD_SANDBOX=bubblewrap\) but cannot run here: \/bin\/false cannot make a sandbox here: it exited with code 1 and said nothing\. To fix: bwrap needs unprivileged user namespaces .*Or set MLLEAD_SANDBOX=process to run model-driven commands without isolation\.$/,
    );
  });
});

/** Waits for a process to exit and gives its code and everything it printed. */
async function exitOf(proc: ChildProcess): Promise<{ code: number | null; output: string }> {
  let output = "";
  proc.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const code = await new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  return { code, output };
}

/** `services/gpu-runner/src/main.ts` as its own process, as an operator starts it. */
async function startRunnerProcess(env: Record<string, string>) {
  const proc: ChildProcess = spawn(process.execPath, ["--import", "tsx", "services/gpu-runner/src/main.ts"], {
    cwd: ROOT,
    env: { HOME: "/root", PATH: py.path, PORT: "0", LOG_LEVEL: "info", ...env },
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
  await vi.waitFor(
    () => {
      if (!out.includes("gpu-runner ready")) throw new Error(`runner not ready yet:\n${out}`);
    },
    { timeout: 30_000, interval: 100 },
  );
  return { proc, exited, output: () => out };
}

/**
 * `pnpm bench runner`: how fast the GPU runner recovers (issue 13, item 4), against a private nats-server with
 * the real runner as its own process (`services/gpu-runner/src/main.ts`, one CPU slot, no GPU needed).
 *
 * (a) resume: a job runs; the runner is SIGKILLed and started again with the same RUNNER_ID; timed from the kill
 *     to the rerun's `job.started` (and, apart, from the new process's readiness to it). The consumer's ack wait
 *     is 600 s, so the rerun can only come from the runner's own claims. Goal: 5 s.
 * (b) hand-over: job A holds the only slot, job B waits in the runner's hand; A's process prints its end time as
 *     it exits; timed from there to B's `job.started`. Goal: 200 ms.
 * BENCH_RUNNER_ROUNDS rounds of each (default 5); prints median and p95 beside the goals.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { CONSUMERS, everyResource, GpuJob, SUBJECTS, type TaskEvent } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { startNatsServer } from "@mllead/tools/nats-server";
import { type ServiceProcess, startService, stopService } from "@mllead/tools/services";

const ROUNDS = Number(process.env.BENCH_RUNNER_ROUNDS ?? 5);
const log = createLogger("bench-runner", "silent");

/** Waits for the file GO when set; prints its end time (s since the epoch) as it exits. */
const JOB = `
import os, time
go = os.environ.get("GO")
while go and not os.path.exists(go):
    time.sleep(0.005)
print("end %.6f" % time.time())
`;

let seq = 0;
function job(go: string | undefined): GpuJob {
  seq++;
  const id = `bench${process.pid}x${seq}`;
  return GpuJob.parse({
    v: 1,
    jobId: `j${id}`,
    taskId: `t${id}`,
    stepId: "bench",
    attempt: 1,
    command: ["python3", "job.py"],
    files: [{ path: "job.py", content: JOB }],
    env: go ? { GO: go } : {},
    gpus: 0,
    timeoutSec: 600,
    submittedAt: new Date().toISOString(),
  });
}

/** Every event of every task, with the time it arrived here. */
function eventLog(bus: Bus) {
  const seen: { at: number; e: TaskEvent }[] = [];
  const ready = bus.subscribe("mllead.evt.task.>", (m) => {
    seen.push({ at: Date.now(), e: JSON.parse(new TextDecoder().decode(m.data)) as TaskEvent });
  });
  const find = (pred: (e: TaskEvent) => boolean) => seen.find((s) => pred(s.e));
  return {
    ready,
    async wait(pred: (e: TaskEvent) => boolean, what: string, timeoutMs = 60_000): Promise<{ at: number; e: TaskEvent }> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = find(pred);
        if (hit) return hit;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 2));
      }
    },
  };
}

const started = (j: GpuJob, run: number) => (e: TaskEvent) =>
  e.type === "job.started" && e.eventId === `job.started:${j.jobId}:${run}`;
const finished = (j: GpuJob) => (e: TaskEvent) => e.type === "job.finished" && e.jobId === j.jobId;

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");

function stats(xs: number[]): { median: number; p95: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN;
  return { median: at(0.5), p95: at(0.95) };
}

async function main(): Promise<void> {
  await using nats = await startNatsServer();
  const tmp = await mkdtemp(join(tmpdir(), "mllead-bench-runner-"));
  const bus = await Bus.connect({ url: nats.url, name: "bench-runner", log });
  let runner: ServiceProcess | null = null;
  try {
    await bus.setUp(everyResource([CONSUMERS.gpuRunner]));
    const events = eventLog(bus);
    await events.ready;
    const env = {
      HOME: process.env.HOME ?? "/tmp",
      PATH: process.env.PATH ?? "",
      LOG_LEVEL: "warn",
      NATS_URL: nats.url,
      RUNNER_ID: "bench-runner-1",
      MLLEAD_SANDBOX: "process",
      MLLEAD_NVIDIA_SMI: join(tmp, "no-nvidia-smi"),
      MLLEAD_JOBS_DIR: join(tmp, "jobs"),
      MLLEAD_HEARTBEAT_SEC: "1",
      MLLEAD_ACK_WAIT_SEC: "600",
    };
    runner = startService("gpu-runner", env);
    await runner.ready;

    const killToRerun: number[] = [];
    const killToReady: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const go = join(tmp, `go-resume-${i}`);
      const j = job(go);
      await bus.publish(SUBJECTS.gpuJob, GpuJob, j, j.jobId);
      await events.wait(started(j, 1), "the first run");
      const killedAt = Date.now();
      runner.proc.kill("SIGKILL");
      await runner.exited;
      runner = startService("gpu-runner", env);
      await runner.ready;
      const readyAt = Date.now();
      const rerun = await events.wait(started(j, 2), "the rerun");
      killToRerun.push(rerun.at - killedAt);
      killToReady.push(readyAt - killedAt);
      await writeFile(go, "");
      await events.wait(finished(j), "the rerun's end");
    }

    const freedToStarted: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const go = join(tmp, `go-handover-${i}`);
      const a = job(go);
      const b = job(undefined);
      await bus.publish(SUBJECTS.gpuJob, GpuJob, a, a.jobId);
      await events.wait(started(a, 1), "job A");
      await bus.publish(SUBJECTS.gpuJob, GpuJob, b, b.jobId);
      // B is in the runner's hand (delivered, not acked) before A ends.
      for (;;) {
        if ((await bus.consumerState("MLLEAD_GPU", "gpu-runner")).ackPending >= 2) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      await writeFile(go, "");
      const aEnd = await events.wait(finished(a), "job A's end");
      const bStart = await events.wait(started(b, 1), "job B");
      const endLine = aEnd.e.type === "job.finished" ? aEnd.e.result.logTail.find((l) => l.startsWith("end ")) : undefined;
      const freedAt = Number(endLine?.slice(4)) * 1000;
      freedToStarted.push(Date.parse(bStart.e.at) - freedAt);
      await events.wait(finished(b), "job B's end");
    }

    const rows = [
      ["kill → rerun started (resume)", stats(killToRerun), 5000],
      ["  beside it: kill → restarted runner ready", stats(killToReady), null],
      ["GPU freed → next job started", stats(freedToStarted), 200],
    ] as const;
    process.stdout.write(`\nrounds: ${ROUNDS}\n`);
    process.stdout.write(
      `${"measure".padEnd(42)}${"median ms".padStart(11)}${"p95 ms".padStart(9)}${"goal ms".padStart(9)}  met\n`,
    );
    let met = true;
    for (const [name, s, goal] of rows) {
      const ok = goal === null ? "" : s.p95 <= goal ? "yes" : "no";
      if (ok === "no") met = false;
      process.stdout.write(
        `${name.padEnd(42)}${s.median.toFixed(0).padStart(11)}${s.p95.toFixed(0).padStart(9)}${(goal === null ? "" : String(goal)).padStart(9)}  ${ok}\n`,
      );
    }
    process.stdout.write(`\nkill → rerun samples: ${fmt(killToRerun)}\nfreed → started samples: ${fmt(freedToStarted)}\n`);
    if (!met) process.exitCode = 1;
  } finally {
    if (runner) await stopService(runner);
    await bus.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();

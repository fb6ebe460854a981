import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import {
  CONSUMERS,
  type EventOf,
  emitEvent,
  everyResource,
  GpuJob,
  type GpuJobInput,
  SUBJECTS,
  type TaskEvent,
} from "@mllead/contracts";
import { testGpuJob } from "@mllead/contracts/testing";
import { createLogger, createRegistry } from "@mllead/service-kit";
import { vi } from "vitest";
import { createRunner, type InventoryPort, type Runner, RunnerConfig } from "../../services/gpu-runner/src/index.js";

export const log = createLogger("gpu-runner-test", process.env.TEST_LOG_LEVEL ?? "silent");

/** A bus on a test server, provisioned for the runner's consumer. */
export async function connectBus(url: string): Promise<Bus & AsyncDisposable> {
  const bus = await Bus.connect({ url, name: "gpu-runner-test", log });
  await bus.setUp(everyResource([{ ...CONSUMERS.gpuRunner, ackWaitSec: 10 }]));
  return Object.assign(bus, { [Symbol.asyncDispose]: () => bus.close() });
}

export const cpuOnly: InventoryPort = { read: async () => ({ gpus: [], cpuOnlyReason: "test host" }) };

/** An in-process runner on its own bus and jobs directory. */
export async function startTestRunner(
  url: string,
  opts: { runnerId?: string; env?: Record<string, string>; inventory?: InventoryPort; hostEnv?: Record<string, string> } = {},
): Promise<Runner & AsyncDisposable & { bus: Bus; jobsDir: string }> {
  const jobsDir = await mkdtemp(join(tmpdir(), "mllead-jobs-"));
  const bus = await connectBus(url);
  const config = RunnerConfig.parse({
    RUNNER_ID: opts.runnerId ?? "runner-1",
    MLLEAD_JOBS_DIR: jobsDir,
    MLLEAD_KILL_GRACE_MS: "500",
    MLLEAD_HEARTBEAT_SEC: "1",
    // These tests share files with their jobs through the host's tmp dir and read the jobs' host pids, which a
    // bubblewrap sandbox rightly forbids; gpu-runner-sandbox.test.ts runs jobs under bubblewrap.
    MLLEAD_SANDBOX: "process",
    ...opts.env,
  });
  const runner = await createRunner({
    bus,
    log,
    registry: createRegistry("gpu-runner-test"),
    config: { ...config, MLLEAD_ACK_WAIT_SEC: 10 },
    host: "test-host",
    env: opts.hostEnv ?? { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" },
    inventory: opts.inventory ?? cpuOnly,
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await runner.stop();
    await bus.close();
    await rm(jobsDir, { recursive: true, force: true });
  };
  return { ...runner, bus, jobsDir, stop, [Symbol.asyncDispose]: stop };
}

let counter = 0;
/** A valid job with unique ids; `over` replaces any field. */
export function makeJob(over: Partial<GpuJobInput> = {}): GpuJob {
  counter++;
  const id = `${process.pid}x${counter}x${Math.random().toString(36).slice(2, 8)}`;
  return testGpuJob({ jobId: `j${id}`, taskId: `t${id}`, gpus: 1, submittedAt: new Date().toISOString(), ...over });
}

export async function submit(bus: Bus, job: GpuJob, msgId: string = job.jobId): Promise<void> {
  await bus.publish(SUBJECTS.gpuJob, GpuJob, job, msgId);
}

/** Says on NATS, as the tech lead would, that a person cancelled `taskId` (`task.cancelled` by U1). */
export async function cancelTask(bus: Bus, taskId: string, reason = "changed my mind"): Promise<void> {
  await emitEvent(bus, {
    v: 1,
    type: "task.cancelled",
    eventId: `task.cancelled:${taskId}`,
    taskId,
    at: new Date().toISOString(),
    userId: "U1",
    reason,
  });
}

/** Every event of one task, collected from the moment this is called. */
export function watchTask(bus: Bus, taskId: string) {
  const events: TaskEvent[] = [];
  const sub = rawNats(bus).nc.subscribe(SUBJECTS.taskEvents(taskId), {
    callback: (_err, msg) => {
      events.push(JSON.parse(msg.string()) as TaskEvent);
    },
  });
  return {
    events,
    of<T extends TaskEvent["type"]>(type: T): EventOf<T>[] {
      return events.filter((e): e is EventOf<T> => e.type === type);
    },
    async finished(timeout = 45_000): Promise<EventOf<"job.finished">> {
      return vi.waitFor(
        () => {
          const f = events.find((e): e is EventOf<"job.finished"> => e.type === "job.finished");
          if (!f) throw new Error("no job.finished yet");
          return f;
        },
        { timeout, interval: 50 },
      );
    },
    stop: () => sub.unsubscribe(),
  };
}

/** True while a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Messages left in the GPU work queue. */
export async function queued(bus: Bus): Promise<number> {
  return (await bus.streamState("MLLEAD_GPU")).messages;
}

import { resolve } from "node:path";
import type { Bus, Consumption, MessageContext } from "@mllead/bus";
import { BUCKETS, CONSUMERS, GpuJob, type JobProgress, type JobResult, SUBJECTS } from "@mllead/contracts";
import type { ProcessRunner, ProcessSpec, Sandbox, SandboxPolicy } from "@mllead/sandbox";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { Allocator } from "./allocator.js";
import { ClaimHeldError, ClaimStore, decideClaim, JobClaim } from "./claims.js";
import type { RunnerConfig } from "./config.js";
import { Heartbeat, RunnerHeartbeat } from "./heartbeat.js";
import type { InventoryPort } from "./inventory.js";
import { jobFinished, jobProgressed, jobStarted, notRunResult } from "./job-events.js";
import { executeJob } from "./job-executor.js";
import { gpuDeviceNodes, openJobSandbox, readDeviceMinors } from "./job-sandbox.js";
import { createRunnerMetrics } from "./metrics.js";
import { reapOrphans } from "./orphans.js";
import { TaskRecords } from "./task-records.js";

/** Everything the runner is built from; tests build it in-process with a private nats-server. */
export interface RunnerDeps {
  bus: Bus;
  log: Logger;
  registry: Registry;
  config: RunnerConfig & { MLLEAD_ACK_WAIT_SEC?: number | undefined };
  host: string;
  /** The host environment jobs inherit their safe variables from (main passes process.env). */
  hostEnv: Readonly<Record<string, string | undefined>>;
  inventory: InventoryPort;
  /** The sandbox jobs run in. Default: `createSandbox` as MLLEAD_SANDBOX and MLLEAD_BWRAP say. */
  sandbox?: Sandbox;
  /** Runs jobs through this instead of the sandbox (no policy applied): for tests that fake the process. */
  runProcess?: ProcessRunner;
}

/** A started runner: readiness checks for `/readyz` and a graceful stop. */
export interface Runner {
  readiness: Record<string, () => boolean>;
  /** How jobs are isolated here; `warning` is set when they are not (no bubblewrap), for status pages. */
  sandbox: { kind: Sandbox["kind"]; warning?: string };
  stop(): Promise<void>;
}

/** The runner is stopping: the job goes back to the queue for another runner. */
export class ShuttingDownError extends Error {
  readonly code = "shutting_down";
  override readonly name = "ShuttingDownError";
}

/** Another live runner has the GPUs this host lacks: the job is handed back for it. */
export class BetterElsewhereError extends Error {
  readonly code = "better_elsewhere";
  override readonly name = "BetterElsewhereError";
}

interface Held {
  taskId: string;
  run: number;
  revision: number;
  abort: AbortController;
  cancelled: boolean;
}

/**
 * Starts a runner: reads the inventory, heartbeats, and consumes `mllead.work.gpu`
 * (shared work queue), running each job exactly once across all runners.
 */
export async function startRunner(deps: RunnerDeps): Promise<Runner> {
  const { bus, config } = deps;
  const log = deps.log.child({ runnerId: config.RUNNER_ID });
  const me = config.RUNNER_ID;
  const inv = await deps.inventory.read();
  if (inv.cpuOnlyReason) log.info({ reason: inv.cpuOnlyReason, cpuSlots: config.MLLEAD_CPU_SLOTS }, "CPU-only host");
  else log.info({ gpus: inv.gpus.map((g) => `${g.index}:${g.name}`) }, "GPU host");
  const allocator = new Allocator(
    inv.gpus.map((g) => g.uuid),
    config.MLLEAD_CPU_SLOTS,
  );
  const metrics = createRunnerMetrics(deps.registry, inv.gpus.length);
  const { sandbox, settings: sandboxSettings, python } = await openJobSandbox(config, deps, log);
  const gpuIndex = new Map(inv.gpus.map((g) => [g.uuid, g.index]));
  const deviceMinors = readDeviceMinors();
  const claims = new ClaimStore(await bus.kv(BUCKETS.jobs, JobClaim));
  // The tech lead's records say which jobs a step asked for and which tasks are cancelled; messages can be forged.
  const records = new TaskRecords(bus);
  const runnersKv = await bus.kv(BUCKETS.runners, RunnerHeartbeat);
  const held = new Map<string, Held>();
  const shutdown = new AbortController();
  const staleMs = config.MLLEAD_HEARTBEAT_SEC * 3000;
  const executorDeps = {
    jobsDir: resolve(config.MLLEAD_JOBS_DIR),
    host: deps.host,
    hostEnv: deps.hostEnv,
    envPass: config.MLLEAD_SANDBOX_ENV,
    killGraceMs: config.MLLEAD_KILL_GRACE_MS,
    progressIntervalMs: config.MLLEAD_PROGRESS_INTERVAL_MS,
    logMaxBytes: config.MLLEAD_LOG_MAX_BYTES,
    artifactMaxBytes: config.MLLEAD_ARTIFACT_MAX_BYTES,
    keepJobDirs: config.MLLEAD_KEEP_JOB_DIRS,
    objects: () => bus.objects(),
    runSandboxed: deps.runProcess ?? ((spec: ProcessSpec, policy: SandboxPolicy) => sandbox.runProcess({ ...spec, policy })),
    sandboxSettings,
    deviceNodes: (uuids: readonly string[]) => gpuDeviceNodes(uuids, gpuIndex, deviceMinors),
  };

  const now = () => new Date().toISOString();
  const claimOf = (job: GpuJob, h: Pick<Held, "run">, state: JobClaim["state"], result?: JobResult): JobClaim => ({
    jobId: job.jobId,
    runnerId: me,
    host: deps.host,
    state,
    run: h.run,
    leaseAt: now(),
    ...(result ? { result } : {}),
  });

  const renewLeases = async () => {
    for (const [jobId, h] of held) {
      const cur = await claims.get(jobId);
      if (!cur || cur.value.runnerId !== me || cur.value.state !== "running") continue;
      const rev = await claims.replace({ ...cur.value, leaseAt: now() }, cur.revision);
      if (rev !== null) h.revision = rev;
    }
  };
  const heartbeat = new Heartbeat({
    kv: runnersKv,
    runnerId: me,
    host: deps.host,
    cpuSlots: config.MLLEAD_CPU_SLOTS,
    inventory: inv.gpus.length > 0 ? deps.inventory : null,
    initialGpus: inv.gpus,
    runningJobs: () => [...held.keys()],
    ...(python
      ? {
          python: {
            kind: python.kind,
            interpreter: python.interpreter,
            ...(python.version ? { version: python.version } : {}),
            packages: [...python.packages, ...python.otherPackages],
          },
        }
      : {}),
    onBeat: renewLeases,
    intervalMs: config.MLLEAD_HEARTBEAT_SEC * 1000,
    log,
  });
  // Before taking work: processes of jobs this runner was running when it died are killed (the jobs run again).
  await reapOrphans(
    executorDeps.jobsDir,
    async (jobId) => {
      const claim = await claims.get(jobId);
      return !claim || claim.value.runnerId === me;
    },
    log,
  );
  await heartbeat.start();

  const emitFinished = (job: GpuJob, result: JobResult) => bus.emit(jobFinished(job, result));

  /** Whether some other live runner has at least `gpus` GPUs (so this host should not take the job). */
  const otherRunnerFits = async (gpus: number): Promise<boolean> => {
    for (const key of await runnersKv.keys()) {
      if (key === me) continue;
      const hb = await runnersKv.get(key).catch(() => null);
      if (hb && hb.value.gpus.length >= gpus) return true;
    }
    return false;
  };

  /** Takes the job's claim; null when the job is already finished (its result re-published). */
  const takeClaim = async (job: GpuJob): Promise<Pick<Held, "run" | "revision"> | null> => {
    for (let i = 0; i < 5; i++) {
      const cur = await claims.get(job.jobId);
      const d = decideClaim(cur?.value ?? null, { runnerId: me, runningHere: held.has(job.jobId) }, Date.now(), staleMs);
      switch (d.kind) {
        case "create": {
          const rev = await claims.create(claimOf(job, { run: 1 }, "running"));
          if (rev !== null) return { run: 1, revision: rev };
          break;
        }
        case "take": {
          const run = (cur?.value.run ?? 0) + 1;
          const rev = await claims.replace(claimOf(job, { run }, "running"), cur?.revision ?? 0);
          if (rev !== null) {
            log.info({ jobId: job.jobId, why: d.why, previous: cur?.value.runnerId, run }, "running the job again");
            return { run, revision: rev };
          }
          break;
        }
        case "wait":
          throw new ClaimHeldError(`runner '${d.holder}' is running job ${job.jobId}`);
        case "finished":
          if (d.result) await emitFinished(job, d.result);
          return null;
        default: {
          const never: never = d;
          throw new Error(`unknown claim decision ${JSON.stringify(never)}`);
        }
      }
    }
    throw new ClaimHeldError(`lost the race for job ${job.jobId}`);
  };

  const finish = async (job: GpuJob, h: Pick<Held, "run" | "revision">, result: JobResult, jlog: Logger) => {
    const rev = await claims.replace(claimOf(job, h, "finished", result), h.revision);
    if (rev === null) jlog.warn("the job's claim changed while it ran; publishing its result anyway");
    await emitFinished(job, result);
    metrics.finished(result.outcome);
    jlog.info({ outcome: result.outcome, exitCode: result.exitCode, durationMs: result.durationMs }, "job finished");
  };

  const handle = async (job: GpuJob, ctx: MessageContext): Promise<void> => {
    if (shutdown.signal.aborted) throw new ShuttingDownError("runner is shutting down");
    const jlog = ctx.log.child({ jobId: job.jobId, taskId: job.taskId });
    const refused = await records.refusal(job);
    if (refused) {
      jlog.warn({ reason: refused, stepId: job.stepId, attempt: job.attempt }, "refused a GPU job no step of its task asked for");
      return;
    }
    if (await bus.lastEvent(SUBJECTS.event({ type: "job.finished", taskId: job.taskId, jobId: job.jobId }))) {
      jlog.info("job already finished; skipping the duplicate");
      return;
    }
    const short = job.gpus > allocator.devices.length;
    if (short && (await otherRunnerFits(job.gpus))) {
      throw new BetterElsewhereError(`job ${job.jobId} needs ${job.gpus} GPUs; another runner has them`);
    }
    const claim = await takeClaim(job);
    if (!claim) return;
    const h: Held = { ...claim, taskId: job.taskId, abort: new AbortController(), cancelled: false };
    held.set(job.jobId, h);
    try {
      const cancelledEvent = async () =>
        (await bus.lastEvent(SUBJECTS.event({ type: "task.cancelled", taskId: job.taskId }))) !== null;
      if (await records.cancelled(job.taskId, cancelledEvent)) {
        await finish(job, h, notRunResult("the task was cancelled before the job started", deps.host, "cancelled"), jlog);
        return;
      }
      const got = await allocator.acquire(job.jobId, job.gpus, shutdown.signal).catch(() => null);
      if (!got) throw new ShuttingDownError("runner is shutting down");
      if (got.kind === "impossible") {
        await finish(job, h, notRunResult(got.reason, deps.host), jlog);
        return;
      }
      metrics.setRunning(allocator.running().length);
      const devices = got.allocation.devices;
      await bus.emit(jobStarted(job, h.run, deps.host, me, devices));
      jlog.info({ devices, run: h.run, command: job.command[0] }, "job started");
      let progressChain = Promise.resolve();
      const onProgress = (progress: JobProgress) => {
        progressChain = progressChain
          .then(() => bus.emit(jobProgressed(job, h.run, progress)))
          .catch((err: unknown) => jlog.warn({ err }, "could not publish progress"));
      };
      const stopOnShutdown = () => h.abort.abort();
      shutdown.signal.addEventListener("abort", stopOnShutdown, { once: true });
      const exec = await executeJob(executorDeps, job, got.allocation, {
        onProgress,
        signal: h.abort.signal,
        log: jlog,
        skipUploads: () => shutdown.signal.aborted && !h.cancelled,
      }).finally(() => {
        shutdown.signal.removeEventListener("abort", stopOnShutdown);
        allocator.release(job.jobId);
        metrics.setRunning(allocator.running().length);
      });
      await progressChain;
      if (exec.stopped && !h.cancelled) {
        // Shutdown: hand the job back; another runner (or this one, restarted) runs it again.
        await claims.replace(claimOf(job, h, "released"), h.revision).catch(() => null);
        throw new ShuttingDownError(`job ${job.jobId} was stopped by the runner's shutdown`);
      }
      await finish(job, h, exec.result, jlog);
    } finally {
      held.delete(job.jobId);
    }
  };

  // A cancelled task stops its jobs (core subscription: every JetStream publish is also seen here).
  const cancelSub = bus.nc.subscribe(SUBJECTS.event({ type: "task.cancelled", taskId: "*" }), {
    callback: (_err, msg) => {
      const taskId = msg.subject.split(".")[3] as string;
      if (![...held.values()].some((h) => h.taskId === taskId)) return;
      // Anyone can publish on the subject: only a cancellation the task's record shows stops its jobs.
      records
        .cancelled(taskId, async () => true)
        .then((cancelled) => {
          if (!cancelled) {
            log.warn({ taskId, subject: msg.subject }, "ignored a cancellation the task's record does not show");
            return;
          }
          for (const [jobId, h] of held) {
            if (h.taskId !== taskId) continue;
            log.info({ jobId, taskId }, "task cancelled; stopping its job");
            h.cancelled = true;
            h.abort.abort();
          }
        })
        .catch((err: unknown) =>
          log.error({ err, taskId }, "could not check a cancellation against the task's record; its jobs go on"),
        );
    },
  });

  const ackWaitSec = config.MLLEAD_ACK_WAIT_SEC ?? CONSUMERS.gpuRunner.ackWaitSec;
  const consumption: Consumption = await bus.consume({ ...CONSUMERS.gpuRunner, ackWaitSec }, GpuJob, handle, {
    concurrency: allocator.capacity,
    // A held claim or a better-placed runner: look again in a few seconds rather than at once.
    backoffMs: (n) => Math.min(30_000, 2000 * 2 ** Math.max(0, n - 1)),
  });
  log.info({ capacity: allocator.capacity, gpus: inv.gpus.length }, "runner consuming jobs");

  return {
    sandbox: { kind: sandbox.kind, ...(sandbox.warning ? { warning: sandbox.warning } : {}) },
    readiness: {
      gpus: () => true,
      heartbeat: () => heartbeat.ok,
    },
    stop: async () => {
      shutdown.abort();
      cancelSub.unsubscribe();
      await consumption.stop();
      await heartbeat.stop();
    },
  };
}

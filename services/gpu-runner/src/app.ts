import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Bus, Consumption, TypedKv } from "@mllead/bus";
import { BUCKETS, CONSUMERS, GpuJob, OBJECT_STORE, RunnerHeartbeat } from "@mllead/contracts";
import type { ProcessRunner, ProcessSpec, PythonEnvDescription, Sandbox, SandboxPolicy } from "@mllead/sandbox";
import type { RunningService } from "@mllead/service-kit";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { Allocator } from "./allocator.js";
import { jobConcurrency, pickBackend, slurmInventory } from "./backends/pick.js";
import { watchCancellations } from "./cancellations.js";
import { ClaimStore, JobClaim } from "./claims.js";
import type { RunnerConfig } from "./config.js";
import { Heartbeat, heartbeatPython } from "./heartbeat.js";
import { HeldJobs } from "./held-jobs.js";
import { type Inventory, type InventoryPort, nvidiaSmiInventory } from "./inventory.js";
import type { ExecutorDeps } from "./job-executor.js";
import { jobIntake } from "./job-intake.js";
import { gpuDeviceNodes, type JobSandboxSettings, openJobSandbox, readDeviceMinors } from "./job-sandbox.js";
import { createRunnerMetrics } from "./metrics.js";
import { reapOrphans } from "./orphans.js";
import { otherRunnerFree } from "./placement.js";
import { resumeInterrupted } from "./resume.js";
import type { RunnerCore } from "./runner-core.js";
import { TaskRecords } from "./task-records.js";

/**
 * Everything the runner is built from: service-kit's `ServiceContext` fits (`create: (ctx) => createRunner(ctx)`),
 * and tests build it in-process with a private nats-server, their own host name, environment and inventory.
 */
export interface RunnerDeps {
  bus: Bus;
  log: Logger;
  registry: Registry;
  config: RunnerConfig & { MLLEAD_ACK_WAIT_SEC?: number | undefined };
  /** The environment jobs inherit their safe variables from: PATH, HOME, TMPDIR, LANG, LC_* and MLLEAD_SANDBOX_ENV. */
  env: Readonly<Record<string, string | undefined>>;
  /** The host's name in job results and heartbeats. Default `os.hostname()`. */
  host?: string;
  /** Default: nvidia-smi at MLLEAD_NVIDIA_SMI. */
  inventory?: InventoryPort;
  /** The sandbox jobs run in. Default: `createSandbox` as MLLEAD_SANDBOX and MLLEAD_BWRAP say. */
  sandbox?: Sandbox;
  /** Runs jobs through this instead of the sandbox (no policy applied): for tests that fake the process. */
  runProcess?: ProcessRunner;
}

/** A started runner: readiness checks for `/readyz`, how jobs are isolated, and a graceful stop. */
export interface Runner extends RunningService {
  readiness: Record<string, () => boolean>;
  /** How jobs are isolated here; `warning` is set when they are not (no bubblewrap), for status pages. */
  sandbox: { kind: Sandbox["kind"]; warning?: string };
}

/**
 * Creates and starts a runner: reads the inventory, opens the job sandbox, kills what a previous run of this
 * runner left behind, heartbeats, watches cancellations and consumes `mllead.work.gpu` (a shared work queue),
 * running each job exactly once across all runners (see `jobIntake`).
 */
export async function createRunner(deps: RunnerDeps): Promise<Runner> {
  const { bus, config } = deps;
  const runnerId = config.RUNNER_ID;
  const host = deps.host ?? hostname();
  const log = deps.log.child({ runnerId });
  const inventory =
    deps.inventory ??
    (config.MLLEAD_RUNNER_BACKEND === "slurm" ? slurmInventory : nvidiaSmiInventory({ bin: config.MLLEAD_NVIDIA_SMI }));
  const inv = await inventory.read();
  if (inv.cpuOnlyReason) log.info({ reason: inv.cpuOnlyReason, cpuSlots: config.MLLEAD_CPU_SLOTS }, "CPU-only host");
  else log.info({ gpus: inv.gpus.map((g) => `${g.index}:${g.name}`) }, "GPU host");
  const metrics = createRunnerMetrics(deps.registry, inv.gpus.length);
  const allocator = new Allocator(
    inv.gpus.map((g) => g.uuid),
    config.MLLEAD_CPU_SLOTS,
    (jobId, waitedMs) => {
      metrics.woken();
      log.info({ jobId, waitedMs }, "woken: devices freed by another job");
    },
  );
  const opened = await openJobSandbox(config, { ...deps, hostEnv: deps.env }, log);
  const claims = new ClaimStore(await bus.kv(BUCKETS.jobs, JobClaim), () => bus.maxPayload());
  const runners = await bus.kv(BUCKETS.runners, RunnerHeartbeat);
  const shutdown = new AbortController();
  const heartbeatMs = config.MLLEAD_HEARTBEAT_SEC * 1000;
  const base: Omit<RunnerCore, "backend"> = {
    bus,
    log,
    runnerId,
    host,
    held: new HeldJobs(claims, { runnerId, host }, heartbeatMs * 3, log),
    records: new TaskRecords(bus),
    allocator,
    metrics,
    shutdown: shutdown.signal,
    executor: executorDeps(deps, host, inv, opened),
    handOnCheckMs: heartbeatMs,
    roomElsewhere: (gpus) => otherRunnerFree(runners, { runnerId, gpuHost: allocator.gpuHost }, gpus, heartbeatMs * 3),
  };
  const core: RunnerCore = {
    ...base,
    backend: pickBackend(base, config, deps.env, { kind: opened.sandbox.kind, settings: opened.settings }, log),
  };
  // Before taking work: processes of jobs this runner was running when it died are killed (the jobs run again).
  await reapOrphans(core.executor.jobsDir, (jobId) => core.held.isMine(jobId), log);
  // Then the jobs it was running take their devices again at once, before any new job can.
  const resumed = await resumeInterrupted(core, claims);
  if (resumed.jobIds.length > 0) log.info({ jobs: resumed.jobIds }, "resumed interrupted jobs");
  const heartbeat = await startHeartbeat(deps, core, runners, { inv, inventory, python: opened.python });
  const cancellations = await watchCancellations(core);
  const ackWaitSec = config.MLLEAD_ACK_WAIT_SEC ?? CONSUMERS.gpuRunner.ackWaitSec;
  const consumption: Consumption = await bus.consume({ ...CONSUMERS.gpuRunner, ackWaitSec }, GpuJob, jobIntake(core, runners), {
    // One job more than fits: it waits in hand for the next freed device and starts the moment it frees.
    concurrency: jobConcurrency(config, allocator.capacity),
    // A held claim or a better-placed runner: look again in a few seconds rather than at once.
    backoffMs: (n) => Math.min(30_000, 2000 * 2 ** Math.max(0, n - 1)),
  });
  log.info({ capacity: allocator.capacity, gpus: inv.gpus.length }, "runner consuming jobs");

  const { sandbox } = opened;
  return {
    sandbox: { kind: sandbox.kind, ...(sandbox.warning ? { warning: sandbox.warning } : {}) },
    readiness: { gpus: () => true, heartbeat: () => heartbeat.ok },
    stop: async () => {
      shutdown.abort();
      cancellations.unsubscribe();
      await consumption.stop();
      await resumed.settled;
      await heartbeat.stop();
    },
  };
}

/** What `executeJob` needs, from the config, the sandbox and the host's GPUs. */
function executorDeps(
  deps: RunnerDeps,
  host: string,
  inv: Inventory,
  opened: { sandbox: Sandbox; settings: JobSandboxSettings },
): ExecutorDeps {
  const { config, bus } = deps;
  const gpuIndex = new Map(inv.gpus.map((g) => [g.uuid, g.index]));
  const deviceMinors = readDeviceMinors();
  return {
    jobsDir: resolve(config.MLLEAD_JOBS_DIR),
    host,
    hostEnv: deps.env,
    envPass: config.MLLEAD_SANDBOX_ENV,
    killGraceMs: config.MLLEAD_KILL_GRACE_MS,
    progressIntervalMs: config.MLLEAD_PROGRESS_INTERVAL_MS,
    logMaxBytes: config.MLLEAD_LOG_MAX_BYTES,
    artifactMaxBytes: config.MLLEAD_ARTIFACT_MAX_BYTES,
    keepJobDirs: config.MLLEAD_KEEP_JOB_DIRS,
    objects: () => bus.objectStore(OBJECT_STORE),
    runSandboxed:
      deps.runProcess ?? ((spec: ProcessSpec, policy: SandboxPolicy) => opened.sandbox.runProcess({ ...spec, policy })),
    sandboxSettings: opened.settings,
    deviceNodes: (uuids: readonly string[]) => gpuDeviceNodes(uuids, gpuIndex, deviceMinors),
  };
}

/** Starts the runner's heartbeat in `mllead_runners`; each beat also renews the leases of the jobs it holds. */
async function startHeartbeat(
  deps: RunnerDeps,
  core: RunnerCore,
  kv: TypedKv<typeof RunnerHeartbeat>,
  host: { inv: Inventory; inventory: InventoryPort; python: PythonEnvDescription | null },
): Promise<Heartbeat> {
  const { inv, inventory, python } = host;
  const pythonInfo = heartbeatPython(python);
  const heartbeat = new Heartbeat({
    kv,
    runnerId: core.runnerId,
    host: core.host,
    cpuSlots: deps.config.MLLEAD_CPU_SLOTS,
    inventory: inv.gpus.length > 0 ? inventory : null,
    initialGpus: inv.gpus,
    runningJobs: () => core.held.ids(),
    ...(pythonInfo ? { python: pythonInfo } : {}),
    onBeat: () => core.held.renewLeases(),
    intervalMs: deps.config.MLLEAD_HEARTBEAT_SEC * 1000,
    log: core.log,
  });
  await heartbeat.start();
  return heartbeat;
}

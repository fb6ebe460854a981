import type { Bus } from "@mllead/bus";
import { emitEvent, type GpuJob, type JobResult } from "@mllead/contracts";
import type { Logger } from "pino";
import type { Allocator } from "./allocator.js";
import type { JobBackend } from "./backends/backend.js";
import type { HeldJobs } from "./held-jobs.js";
import { jobFinished } from "./job-events.js";
import type { ExecutorDeps } from "./job-executor.js";
import type { RunnerMetrics } from "./metrics.js";
import type { TaskRecords } from "./task-records.js";

/** What the runner's handlers (job intake, execution, cancellations) share; built once by `createRunner`. */
export interface RunnerCore {
  bus: Bus;
  log: Logger;
  runnerId: string;
  host: string;
  held: HeldJobs;
  /** The tech lead's task records: which jobs a step asked for, which tasks are cancelled (messages can be forged). */
  records: TaskRecords;
  allocator: Allocator;
  metrics: RunnerMetrics;
  /** Aborted when the runner stops taking work. */
  shutdown: AbortSignal;
  executor: ExecutorDeps;
  /** How often a job waiting for busy devices looks for another runner with room (ms): the heartbeat interval. */
  handOnCheckMs: number;
  /** Whether another live runner has a free slot for a job of `gpus` GPUs now (see placement.ts). */
  roomElsewhere: (gpus: number) => Promise<boolean>;
  /** Where jobs run (MLLEAD_RUNNER_BACKEND): this host's GPUs, or Slurm. */
  backend: JobBackend;
}

/** Publishes the job's `job.finished` event (again, for a job found finished already). */
export function emitFinished(core: Pick<RunnerCore, "bus">, job: GpuJob, result: JobResult): Promise<void> {
  return emitEvent(core.bus, jobFinished(job, result));
}

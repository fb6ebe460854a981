import type { JobOutcome } from "@mllead/contracts";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The runner's Prometheus metrics, registered in the service's registry. */
export interface RunnerMetrics {
  setRunning(n: number): void;
  finished(outcome: JobOutcome): void;
  /** A job that waited for busy devices got them the moment another job freed them. */
  woken(): void;
  /** A job this runner was running when it died, taken up again from its claim at start. */
  resumed(): void;
  /** A job started (on this host's devices, or as a Slurm job): how long it waited since it was submitted. */
  started(job: { submittedAt: string }): void;
}

/**
 * `mllead_runner_jobs_running` (jobs holding devices or a CPU slot),
 * `mllead_runner_jobs_finished_total{outcome}`, `mllead_runner_gpus` (devices on the host),
 * `mllead_runner_device_wakeups_total` (waiting jobs woken by a release), `mllead_runner_jobs_resumed_total`
 * (interrupted jobs taken up again from their claims at start) and `mllead_runner_job_queue_wait_seconds` (from a
 * job's submission to its start: waiting for devices, for a runner, or in Slurm's queue).
 */
export function createRunnerMetrics(registry: Registry, gpus: number): RunnerMetrics {
  const running = new Gauge({
    name: "mllead_runner_jobs_running",
    help: "Jobs running on this runner now",
    registers: [registry],
  });
  const finished = new Counter({
    name: "mllead_runner_jobs_finished_total",
    help: "Jobs this runner finished, by outcome",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const gpuGauge = new Gauge({ name: "mllead_runner_gpus", help: "GPUs on this host", registers: [registry] });
  const wakeups = new Counter({
    name: "mllead_runner_device_wakeups_total",
    help: "Jobs that waited for busy devices and were woken when another job freed them",
    registers: [registry],
  });
  const resumed = new Counter({
    name: "mllead_runner_jobs_resumed_total",
    help: "Interrupted jobs of this runner taken up again from their claims at start",
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: "mllead_runner_job_queue_wait_seconds",
    help: "Time from a job's submission to its start (devices busy, no runner, or Slurm's queue)",
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600],
    registers: [registry],
  });
  gpuGauge.set(gpus);
  running.set(0);
  return {
    setRunning: (n) => running.set(n),
    finished: (outcome) => finished.inc({ outcome }),
    woken: () => wakeups.inc(),
    resumed: () => resumed.inc(),
    started: (job) => {
      const waited = (Date.now() - Date.parse(job.submittedAt)) / 1000;
      // A clock between the specialist's and this host that runs behind would give a negative wait: none is counted.
      if (Number.isFinite(waited) && waited >= 0) queueWait.observe(waited);
    },
  };
}

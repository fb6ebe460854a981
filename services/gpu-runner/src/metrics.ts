import type { JobOutcome } from "@mllead/contracts";
import { Counter, Gauge, type Registry } from "prom-client";

/** The runner's Prometheus metrics, registered in the service's registry. */
export interface RunnerMetrics {
  setRunning(n: number): void;
  finished(outcome: JobOutcome): void;
  /** A job that waited for busy devices got them the moment another job freed them. */
  woken(): void;
  /** A job this runner was running when it died, taken up again from its claim at start. */
  resumed(): void;
}

/**
 * `mllead_runner_jobs_running` (jobs holding devices or a CPU slot),
 * `mllead_runner_jobs_finished_total{outcome}`, `mllead_runner_gpus` (devices on the host),
 * `mllead_runner_device_wakeups_total` (waiting jobs woken by a release) and `mllead_runner_jobs_resumed_total`
 * (interrupted jobs taken up again from their claims at start).
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
  gpuGauge.set(gpus);
  running.set(0);
  return {
    setRunning: (n) => running.set(n),
    finished: (outcome) => finished.inc({ outcome }),
    woken: () => wakeups.inc(),
    resumed: () => resumed.inc(),
  };
}

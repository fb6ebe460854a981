import type { JobOutcome } from "@mllead/contracts";
import { Counter, Gauge, type Registry } from "prom-client";

/** The runner's Prometheus metrics, registered in the service's registry. */
export interface RunnerMetrics {
  setRunning(n: number): void;
  finished(outcome: JobOutcome): void;
}

/**
 * `mllead_runner_jobs_running` (jobs holding devices or a CPU slot),
 * `mllead_runner_jobs_finished_total{outcome}` and `mllead_runner_gpus` (devices on the host).
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
  gpuGauge.set(gpus);
  running.set(0);
  return {
    setRunning: (n) => running.set(n),
    finished: (outcome) => finished.inc({ outcome }),
  };
}

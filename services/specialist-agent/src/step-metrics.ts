import { Counter, Histogram, type Registry } from "prom-client";

/** The specialist's step metrics. */
export interface StepMetrics {
  /** Steps handled, by role and outcome (`completed`, `failed`, `refused`, `duplicate`, `retried`). */
  steps: Counter<"role" | "outcome">;
  /** Time to run a step (s), by role. */
  duration: Histogram<"role">;
}

/** The step metrics, registered in `registry` when given (tests pass none). */
export function createStepMetrics(registry?: Registry): StepMetrics {
  const registers = registry ? [registry] : [];
  return {
    steps: new Counter({
      name: "mllead_steps_total",
      help: "Steps handled, by role and outcome",
      labelNames: ["role", "outcome"] as const,
      registers,
    }),
    duration: new Histogram({
      name: "mllead_step_duration_seconds",
      help: "Time to run a step, by role",
      labelNames: ["role"] as const,
      buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
      registers,
    }),
  };
}

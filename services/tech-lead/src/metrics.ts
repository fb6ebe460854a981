import { Counter, Histogram, type Registry } from "prom-client";

/** The tech lead's Prometheus metrics, registered in `registry` (nowhere when omitted, e.g. in tests). */
export function techLeadMetrics(registry?: Registry) {
  const registers = registry ? [registry] : [];
  return {
    planSeconds: new Histogram({
      name: "mllead_plan_duration_seconds",
      help: "Time the brain took to write a plan or a revision",
      labelNames: ["brain", "outcome"],
      buckets: [0.01, 0.05, 0.25, 1, 5, 15, 30, 60, 120],
      registers,
    }),
    transitions: new Counter({
      name: "mllead_task_transitions_total",
      help: "Task state changes, by the state entered",
      labelNames: ["state"],
      registers,
    }),
    setAside: new Counter({
      name: "mllead_messages_set_aside_total",
      help: "Messages the tech lead gave up on (kept in MLLEAD_DEAD with their reason), by consumer and error code",
      labelNames: ["consumer", "code"],
      registers,
    }),
    claudeCost: new Counter({
      name: "mllead_claude_cost_usd_total",
      help: "What the tasks' Claude calls cost in USD (plans, summaries, lessons and steps), counted when the task records it",
      registers,
    }),
    claudeTokens: new Counter({
      name: "mllead_claude_tokens_total",
      help: "Tokens of the tasks' Claude calls, by kind (input, output, cache_read, cache_write)",
      labelNames: ["kind"],
      registers,
    }),
    quarantined: new Counter({
      name: "mllead_task_records_quarantined_total",
      help: "Task records that did not parse and were moved to the quarantine bucket",
      registers,
    }),
  };
}

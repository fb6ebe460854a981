/**
 * What the offline brain says about its data, in one place. The offline specialists
 * run the shipped demo pipeline (`jobs/prepare_data.py`, `train.py`, `analyze.py`) on
 * a deterministic synthetic churn-like table — in the demo repository and in a team's
 * own repository alike — so every number they report describes that table, never the
 * team's data. The plan (its summary here; its assumptions in plan-context.ts), each worker's
 * result and the closing summary say so.
 */

/** Said in every offline plan's summary. */
export const DEMO_PLAN_NOTE =
  "The offline brain runs the shipped demo pipeline (jobs/prepare_data.py, train.py, analyze.py) on a deterministic synthetic churn-like table, not on your repository's data: its metrics describe the synthetic data only. Set ANTHROPIC_API_KEY for work on your own data.";

/** The warning on every offline worker's result (data-engineer, ml-engineer, analyst). */
export const SYNTHETIC_METRICS_WARNING =
  "metrics from the shipped demo pipeline on synthetic data, not your data (offline brain; set ANTHROPIC_API_KEY to work on your data)";

/** The line under the loss plot's title (the seed of the synthetic table when known). */
export function plotNote(seed?: number): string {
  return `shipped demo pipeline on synthetic data${seed !== undefined ? ` (seed ${seed})` : ""} - not your data`;
}

/**
 * The start of the warning the specialist-agent puts on a result it did not commit
 * (an offline run on a team's repository without MLLEAD_OFFLINE_COMMIT=1); the summary
 * recognises it by this prefix.
 */
export const NOT_COMMITTED_PREFIX = "not committed: offline demo";

import { BrainConfig } from "@mllead/brain";
import { z } from "zod";

const list = z
  .string()
  .transform((s) =>
    s
      .split(/[\s,]+/)
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[UW][A-Z0-9]+$/, "Slack user ids look like U0123ABCD")));

/** The tech lead's own variables (besides BaseConfig). */
export const TechLeadConfig = BrainConfig.extend({
  /** Slack user ids allowed to approve any plan, besides its requester. */
  MLLEAD_APPROVERS: list.default([]),
  /** How many fix rounds the code reviewer may ask for before the task fails. */
  MLLEAD_MAX_REVIEW_ROUNDS: z.coerce.number().int().min(0).max(10).default(2),
  /** How many times a failed step may send the task back to planning (each new plan is approved again). */
  MLLEAD_MAX_REPLANS: z.coerce.number().int().min(0).max(10).default(1),
  /**
   * Commands and step reports handled at once (each task's still one at a time, in order).
   * 1 takes one message at a time across all tasks, as before (and consumes with maxAckPending 1).
   */
  MLLEAD_TECH_LEAD_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(32),
  /** Deliveries after which a message that keeps failing is set aside (kept with its reason, told in its thread). */
  MLLEAD_SET_ASIDE_AFTER: z.coerce.number().int().min(1).max(20).default(5),
  /**
   * A task's Claude budget in USD (tokens priced by the table in contracts' pricing.ts). When the cost reaches
   * it, no further step starts and the thread is asked whether to go on (another budget's worth) or stop.
   * Unset or empty: no budget.
   */
  MLLEAD_TASK_BUDGET_USD: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z.coerce.number().positive("MLLEAD_TASK_BUDGET_USD is a positive amount of US dollars, e.g. 5 or 0.50").optional(),
  ),
});
export type TechLeadConfig = z.output<typeof TechLeadConfig>;

import type { Bus } from "@mllead/bus";
import { type Plan, ScoutQuery, ScoutReply, type ScoutReport, SUBJECTS } from "@mllead/contracts";
import type { Logger } from "pino";

/** How long the tech lead waits for a specialist-agent's scout report before it plans without one (ms). */
export const DEFAULT_SCOUT_TIMEOUT_MS = 15_000;

/** The repository's context for a plan, or why there is none. */
export type PlanContext = { report: ScoutReport } | { missing: string };

/** Why a scout request failed, in words: nobody listening (nats.js's RequestError), a timeout, or the error. */
function failureOf(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { name?: string }; isNoResponders?: () => boolean };
  if (typeof e.isNoResponders === "function" && e.isNoResponders()) return "no specialist-agent answered the scout";
  if (e.name === "TimeoutError" || e.cause?.name === "TimeoutError")
    return `no scout report within ${Math.round(timeoutMs / 1000)} s`;
  return `the scout failed (${String(e.message ?? err).slice(0, 200)})`;
}

/**
 * Asks a specialist-agent what the team's repository holds (`mllead.q.scout`) before planning. Never
 * fails the plan: no specialist, a timeout or an error reply is logged and returned as the reason the
 * plan has no context (the plan then says so among its assumptions).
 */
export async function scoutContext(bus: Bus, taskId: string, timeoutMs: number, log: Logger): Promise<PlanContext> {
  try {
    const reply = await bus.request(SUBJECTS.scoutQuery, ScoutQuery, ScoutReply, { v: 1, taskId }, timeoutMs);
    if (reply.ok) return { report: reply.report };
    log.warn({ taskId, error: reply.error }, "the scout could not read the repository; planning without its context");
    return { missing: `the scout could not read the repository (${reply.error.message.slice(0, 200)})` };
  } catch (err) {
    const why = failureOf(err, timeoutMs);
    log.warn({ taskId, err }, `${why}; planning without the repository's context`);
    return { missing: why };
  }
}

/** The assumption a plan written without the repository's context carries (said once). */
export function withContextAssumption(plan: Plan, context: PlanContext): Plan {
  if (!("missing" in context)) return plan;
  const note = `Planned without reading the repository (${context.missing}): files, data and packages are as the request describes them.`;
  const assumptions = [note, ...(plan.assumptions ?? []).filter((a) => a !== note)].slice(0, 10);
  return { ...plan, assumptions };
}

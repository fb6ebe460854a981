import { createHash } from "node:crypto";

/** A short, stable, subject-safe id derived from its parts (so a retry derives the same id). */
export function stableId(prefix: string, ...parts: string[]): string {
  const h = createHash("sha256").update(parts.join("\u0000")).digest("base64url").replace(/[-_]/g, "").slice(0, 12);
  return `${prefix}${h}`;
}

/** The task id for a Slack message: one per (team, channel, message ts). */
export function taskIdFor(channel: string, messageTs: string, teamId = ""): string {
  return stableId("t", teamId, channel, messageTs);
}

/**
 * The GPU job id for one attempt of one step, derived from the job's content
 * (a canonical string of what it runs): a replayed tool loop that submits the
 * same job gets the same id and re-attaches instead of running it twice.
 */
export function jobIdFor(taskId: string, stepId: string, attempt: number, content = ""): string {
  return content === ""
    ? stableId("j", taskId, stepId, String(attempt))
    : stableId("j", taskId, stepId, String(attempt), content);
}

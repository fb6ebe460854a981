import type { Role } from "@mllead/contracts";

/** The step a commit belongs to. */
export interface StepCommitInfo {
  taskId: string;
  stepId: string;
  role: Role;
  /** The step's attempt (1, 2, …): a retried step commits under its new attempt. */
  attempt: number;
  /** The step's title from the plan; becomes the commit subject. */
  title: string;
}

/** The trailer keys that tie a commit to its task, step and attempt. */
export const TRAILER = { task: "Mllead-Task", step: "Mllead-Step", attempt: "Mllead-Attempt" } as const;

/** Longest commit subject (characters), as `git log --oneline` readers expect. */
const MAX_SUBJECT = 72;

/** `title` as one clean line: control characters and runs of whitespace become single spaces. */
export function oneLine(title: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point.
  return title.replace(/[\u0000-\u001f\u007f\s]+/g, " ").trim();
}

/**
 * The commit message of one step: `mllead(<role>): <title>` (cut to 72
 * characters), a body naming the task, step and attempt, and the trailers
 * `Mllead-Task`, `Mllead-Step`, `Mllead-Attempt` that make a resumed step
 * find its own commit instead of committing twice.
 */
export function formatStepMessage(info: StepCommitInfo): string {
  const head = `mllead(${info.role}): `;
  let title = oneLine(info.title) || `step ${info.stepId}`;
  if (head.length + title.length > MAX_SUBJECT) title = `${title.slice(0, MAX_SUBJECT - head.length - 1).trimEnd()}…`;
  return [
    `${head}${title}`,
    "",
    `Step ${info.stepId} (attempt ${info.attempt}) of task ${info.taskId}, by the ${info.role} specialist.`,
    "",
    `${TRAILER.task}: ${info.taskId}`,
    `${TRAILER.step}: ${info.stepId}`,
    `${TRAILER.attempt}: ${info.attempt}`,
    "",
  ].join("\n");
}

/** Trailers as `git log --format=%(trailers:only,unfold)` prints them, as a map (the last value of a key wins). */
export function parseTrailers(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) out.set(m[1].toLowerCase(), m[2].trim());
  }
  return out;
}

/** The task, step and attempt a commit's trailers name (absent for commits mllead did not make). */
export interface StepTrailers {
  taskId?: string;
  stepId?: string;
  attempt?: number;
}

/** Reads mllead's trailers from `parseTrailers`' map. */
export function stepTrailers(trailers: Map<string, string>): StepTrailers {
  const out: StepTrailers = {};
  const task = trailers.get(TRAILER.task.toLowerCase());
  const step = trailers.get(TRAILER.step.toLowerCase());
  const attempt = Number(trailers.get(TRAILER.attempt.toLowerCase()));
  if (task) out.taskId = task;
  if (step) out.stepId = step;
  if (Number.isInteger(attempt) && attempt > 0) out.attempt = attempt;
  return out;
}

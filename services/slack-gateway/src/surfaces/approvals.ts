import type { Decision } from "@mllead/contracts";

/** What a thread reply asks for, or null when it is ordinary chatter. */
export type ReplyDecision =
  | { decision: Extract<Decision, "approve" | "cancel" | "retry" | "continue"> }
  | { decision: "request_changes"; feedback: string }
  | { decision: "answer"; feedback: string };

const APPROVE = /^(approve|approved|lgtm|ship it)(\s+(it|this|the plan))?$/;
const CANCEL = /^(cancel|stop)(\s+(it|this|the task|the plan|please))?$/;
/** Runs a plan or summary that Claude could not write again. */
const RETRY = /^(retry|try again)(\s+(it|now|please))?$/;
/** Goes on past the task's budget (another budget's worth). */
const GO_ON = /^(go on|continue|keep going|carry on)(\s+(please|anyway))?$/;
/** `changes: …`, `change: …`, `change …`, `revise: …`, `revise …` — the rest is the feedback. */
const CHANGES = /^(?:changes?\s*:|change\s|revise\s*:|revise\s)\s*([\s\S]+)$/i;

/** `answer: …`, `answers: …` — the rest answers the plan's open questions. */
const ANSWER = /^answers?\s*:\s*([\s\S]+)$/i;

/** Drops mentions (`<@U123>`), emoji codes and the punctuation people put around a one-word answer. */
function normalise(text: string): string {
  return text
    .replace(/<@[A-Z0-9]+>/g, " ")
    .replace(/:[a-z0-9_+-]+:/g, " ")
    .replace(/[!.,;]+/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .toLowerCase();
}

/**
 * Reads a thread reply as a decision on the plan: "approve"/"approved"/"lgtm"/"ship it" approve,
 * "cancel"/"stop" cancel, "changes: …"/"change …"/"revise: …" request changes with the rest as
 * feedback, "retry"/"try again" retry a plan or summary Claude could not write, "go on"/"continue"
 * go on past the task's budget, "answer: …" answers the plan's open questions. Anything else is
 * conversation and returns null (while a plan's questions are open, the caller takes it as an answer).
 */
export function parseReplyDecision(text: string): ReplyDecision | null {
  const words = normalise(text);
  if (APPROVE.test(words)) return { decision: "approve" };
  if (CANCEL.test(words)) return { decision: "cancel" };
  if (RETRY.test(words)) return { decision: "retry" };
  if (GO_ON.test(words)) return { decision: "continue" };
  const stripped = text.replace(/<@[A-Z0-9]+>/g, " ").trim();
  const answer = ANSWER.exec(stripped)?.[1]?.trim();
  if (answer) return { decision: "answer", feedback: answer.slice(0, 4000) };
  const m = CHANGES.exec(stripped);
  const feedback = m?.[1]?.trim();
  if (feedback) return { decision: "request_changes", feedback: feedback.slice(0, 4000) };
  return null;
}

/** Reactions on the plan message that approve it. */
export const APPROVING_REACTIONS: ReadonlySet<string> = new Set(["white_check_mark", "heavy_check_mark", "+1"]);

/** A reply read as the answer to a plan's open questions (the whole text, mentions removed); null when empty. */
export function plainAnswer(text: string): ReplyDecision | null {
  const feedback = text
    .replace(/<@[A-Z0-9]+(\|[^>]*)?>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return feedback ? { decision: "answer", feedback: feedback.slice(0, 4000) } : null;
}

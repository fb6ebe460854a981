import type { BrainKind, EventOf } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import type { ArtifactLinker } from "../artifact-links.js";
import type { OutgoingMessage } from "../slack-api.js";
import {
  context,
  esc,
  fallback,
  fitBlocks,
  header,
  mention,
  OFFLINE_NOTE,
  section,
  sections,
  truncate,
  withBrain,
} from "./blocks.js";
import { summaryCostLine } from "./cost.js";
import { formatMetrics } from "./steps.js";

function line(text: string, plain: string, brain: BrainKind | undefined): OutgoingMessage {
  return { text: fallback(plain), blocks: withBrain([section(text)], brain) };
}

/** A person approved the plan; work starts. */
export function renderApproved(e: EventOf<"task.approved">, brain: BrainKind | undefined): OutgoingMessage {
  return line(
    `:white_check_mark: ${mention(e.userId)} approved the plan (${esc(e.via)}). The team is starting.`,
    "Plan approved; the team is starting.",
    brain,
  );
}

/** A person asked for changes (their feedback is quoted), or answered the plan's last open question. */
export function renderChangesRequested(e: EventOf<"task.changes_requested">, brain: BrainKind | undefined): OutgoingMessage {
  if (e.answers) {
    const answers = e.feedback.split("\n").slice(1).join("\n");
    return line(
      `:speech_balloon: ${mention(e.userId)} answered the plan's questions:\n> ${esc(truncate(answers, 2000)).replace(/\n/g, "\n> ")}\nRevising the plan with the answers…`,
      "Questions answered; revising the plan.",
      brain,
    );
  }
  return line(
    `:pencil2: ${mention(e.userId)} asked for changes:\n> ${esc(truncate(e.feedback, 2000)).replace(/\n/g, "\n> ")}\nRevising the plan…`,
    "Changes requested; revising the plan.",
    brain,
  );
}

/** A person answered one of the plan's questions; others are still open. */
export function renderQuestionAnswered(e: EventOf<"task.question_answered">, brain: BrainKind | undefined): OutgoingMessage {
  const left = `${e.open} question${e.open === 1 ? "" : "s"} still open: answer ${e.open === 1 ? "it" : "them"} and I revise the plan.`;
  return line(
    `:speech_balloon: ${mention(e.userId)} answered “${esc(truncate(e.question, 300))}”: *${esc(truncate(e.answer, 500))}*. ${left}`,
    `Answered: ${e.answer}. ${left}`,
    brain,
  );
}

/** The task was cancelled, by a person or the tech lead. */
export function renderCancelled(e: EventOf<"task.cancelled">, brain: BrainKind | undefined): OutgoingMessage {
  const who = e.userId ? ` by ${mention(e.userId)}` : "";
  return line(`:no_entry_sign: Task cancelled${who}: ${esc(e.reason)}`, `Task cancelled: ${e.reason}`, brain);
}

const DECISION_WORDS = {
  approve: "approval",
  request_changes: "change request",
  cancel: "cancellation",
  retry: "retry",
  continue: "go-on",
  answer: "answer",
} as const;

/** Shown only to the person whose decision the tech lead refused. */
export function renderDecisionRejected(e: EventOf<"task.decision_rejected">): OutgoingMessage {
  const text = `:no_entry_sign: Your ${DECISION_WORDS[e.decision]} was not applied: ${esc(e.reason)}`;
  return { text: fallback(`Your ${DECISION_WORDS[e.decision]} was not applied: ${e.reason}`), blocks: [section(text)] };
}

/** A step failed; the tech lead stopped the work and is re-planning (the new plan is approved again). */
export function renderReplanning(e: EventOf<"task.replanning">, brain: BrainKind | undefined): OutgoingMessage {
  return line(
    `:warning: *Step \`${esc(e.stepId)}\` failed* — I stopped the work and am re-planning. The new plan needs your approval again.\n> ${esc(truncate(e.reason, 1500)).replace(/\n/g, "\n> ")}`,
    `Step ${e.stepId} failed; re-planning: ${e.reason}`,
    brain,
  );
}

/** The task failed, with the reason. */
export function renderTaskFailed(e: EventOf<"task.failed">, brain: BrainKind | undefined): OutgoingMessage {
  const step = e.stepId ? ` (at step \`${e.stepId}\`)` : "";
  return line(`:x: *The task failed*${step}\n> ${esc(e.reason).replace(/\n/g, "\n> ")}`, `The task failed: ${e.reason}`, brain);
}

/** The facts under the summary: key metrics, artifacts (linked when `links` is given), the verdict, branch and commits, Claude usage. */
function summaryFacts(e: EventOf<"task.completed">, links?: ArtifactLinker | null): string[] {
  const facts: string[] = [];
  if (Object.keys(e.metrics).length) facts.push(`*Key metrics:* ${formatMetrics(e.metrics, 15)}`);
  if (e.artifacts.length) {
    const named = e.artifacts.map((a) =>
      links ? `<${links.url(a.objectName)}|${esc(a.name).replace(/\|/g, "¦")}>` : esc(a.name),
    );
    facts.push(`*Artifacts:* ${named.join(", ")}${links ? ` (links valid ${links.ttlHours} h)` : ""}`);
  }
  if (e.verdict) {
    facts.push(
      `*Code review:* ${e.verdict.decision === "approve" ? ":white_check_mark: approved" : ":warning: changes requested"} — ${esc(truncate(e.verdict.summary, 500))}`,
    );
  }
  if (e.git) {
    const commits = e.git.commits.map((c) => `\`${esc(c.sha.slice(0, 10))}\` ${esc(truncate(c.message, 80))}`);
    facts.push(
      `*Branch:* \`${esc(e.git.branch)}\` (from \`${esc(e.git.baseCommit.slice(0, 10))}\`)${e.git.pushed ? `, pushed to ${esc(e.git.pushed.remote)}` : ""}`,
      commits.length
        ? `*Commits:*\n${commits.map((c) => `• ${c}`).join("\n")}`
        : "*Commits:* none (nothing in the repository changed)",
    );
  }
  // What the task's Claude calls cost (plans, steps, summary) and their tokens; $0 offline.
  const cost = summaryCostLine(e);
  if (cost) facts.push(cost);
  return facts;
}

function finishedAt(e: EventOf<"task.completed">): types.KnownBlock {
  return context(`Task \`${e.taskId}\` finished ${e.at.replace("T", " ").replace(/\.\d+Z$/, "Z")}`);
}

/** The closing summary: what was done, key metrics, artifacts and the review verdict (posted whole). */
export function renderTaskCompleted(e: EventOf<"task.completed">, links?: ArtifactLinker | null): OutgoingMessage {
  const blocks: types.KnownBlock[] = [header("🎉 Done — summary"), ...sections(esc(e.summary))];
  const facts = summaryFacts(e, links);
  if (facts.length) blocks.push(...sections(facts.join("\n")));
  blocks.push(finishedAt(e));
  return { text: fallback(`Done: ${e.summary}`), blocks: fitBlocks(withBrain(blocks, e.brain)) };
}

/**
 * Markdown for a stream: `&`, `<` and `>` escaped like mrkdwn, so no one's text becomes a mention
 * or a link, and mrkdwn's `*bold*` and `~strike~` (what the brains write for Slack) turned into
 * Markdown's `**bold**` and `~~strike~~`.
 */
export function streamMarkdown(text: string): string {
  return esc(text)
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/gm, "$1**$2**")
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/gm, "$1~~$2~~");
}

/**
 * The summary as Slack's streamed reply: the text arrives in a few parts (paragraphs) through
 * chat.startStream / appendStream, and chat.stopStream adds the facts, the finish line and the
 * offline label as blocks under it.
 */
export function renderSummaryStream(
  e: EventOf<"task.completed">,
  links?: ArtifactLinker | null,
): { parts: string[]; end: types.KnownBlock[] } {
  const paragraphs = truncate(e.summary, 11_000)
    .split(/\n{2,}/)
    .map((p) => p.trim())
    .filter(Boolean);
  // Paragraphs grouped into parts of about 1,500 characters: a few appends, not one per line.
  const parts = ["**🎉 Done — summary**\n\n"];
  let current = "";
  for (const [i, p] of paragraphs.entries()) {
    const piece = `${i > 0 ? "\n\n" : ""}${streamMarkdown(p)}`;
    if (current && current.length + piece.length > 1500) {
      parts.push(current);
      current = "";
    }
    current += piece;
  }
  if (current) parts.push(current);
  const facts = summaryFacts(e, links);
  const end: types.KnownBlock[] = [...(facts.length ? sections(facts.join("\n")) : []), finishedAt(e)];
  if (e.brain === "offline") end.push(context(OFFLINE_NOTE));
  return { parts, end: fitBlocks(end, 49) };
}

import type { BrainKind, EventOf } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import type { OutgoingMessage } from "../slack-api.js";
import { context, esc, fallback, fitBlocks, header, section, sections, truncate, withBrain } from "./blocks.js";
import { formatMetrics, usageLine } from "./steps.js";

function line(text: string, plain: string, brain: BrainKind | undefined): OutgoingMessage {
  return { text: fallback(plain), blocks: withBrain([section(text)], brain) };
}

/** A person approved the plan; work starts. */
export function renderApproved(e: EventOf<"task.approved">, brain: BrainKind | undefined): OutgoingMessage {
  return line(
    `:white_check_mark: <@${e.userId}> approved the plan (${esc(e.via)}). The team is starting.`,
    "Plan approved; the team is starting.",
    brain,
  );
}

/** A person asked for changes; their feedback is quoted. */
export function renderChangesRequested(e: EventOf<"task.changes_requested">, brain: BrainKind | undefined): OutgoingMessage {
  return line(
    `:pencil2: <@${e.userId}> asked for changes:\n> ${esc(truncate(e.feedback, 2000)).replace(/\n/g, "\n> ")}\nRevising the plan…`,
    "Changes requested; revising the plan.",
    brain,
  );
}

/** The task was cancelled, by a person or the tech lead. */
export function renderCancelled(e: EventOf<"task.cancelled">, brain: BrainKind | undefined): OutgoingMessage {
  const who = e.userId ? ` by <@${e.userId}>` : "";
  return line(`:no_entry_sign: Task cancelled${who}: ${esc(e.reason)}`, `Task cancelled: ${e.reason}`, brain);
}

const DECISION_WORDS = { approve: "approval", request_changes: "change request", cancel: "cancellation" } as const;

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

/** The closing summary: what was done, key metrics, artifacts and the review verdict. */
export function renderTaskCompleted(e: EventOf<"task.completed">): OutgoingMessage {
  const blocks: types.KnownBlock[] = [header("🎉 Done — summary"), ...sections(esc(e.summary))];
  const facts: string[] = [];
  if (Object.keys(e.metrics).length) facts.push(`*Key metrics:* ${formatMetrics(e.metrics, 15)}`);
  if (e.artifacts.length) facts.push(`*Artifacts:* ${e.artifacts.map((a) => esc(a.name)).join(", ")}`);
  if (e.verdict) {
    facts.push(
      `*Code review:* ${e.verdict.decision === "approve" ? ":white_check_mark: approved" : ":warning: changes requested"} — ${esc(truncate(e.verdict.summary, 500))}`,
    );
  }
  if (e.git) {
    const commits = e.git.commits.map((c) => `\`${c.sha.slice(0, 10)}\` ${esc(truncate(c.message, 80))}`);
    facts.push(
      `*Branch:* \`${esc(e.git.branch)}\` (from \`${e.git.baseCommit.slice(0, 10)}\`)${e.git.pushed ? `, pushed to ${esc(e.git.pushed.remote)}` : ""}`,
      commits.length
        ? `*Commits:*\n${commits.map((c) => `• ${c}`).join("\n")}`
        : "*Commits:* none (nothing in the repository changed)",
    );
  }
  if (e.usage) facts.push(`*Claude:* ${usageLine(e.usage)}`);
  if (facts.length) blocks.push(section(facts.join("\n")));
  blocks.push(context(`Task \`${e.taskId}\` finished ${e.at.replace("T", " ").replace(/\.\d+Z$/, "Z")}`));
  return { text: fallback(`Done: ${e.summary}`), blocks: fitBlocks(withBrain(blocks, e.brain)) };
}

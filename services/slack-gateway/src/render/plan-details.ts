import type { Plan, Step } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import type { OutgoingMessage } from "../slack-api.js";
import { divider, esc, fallback, fitBlocks, header, section, sections, truncate, withBrain } from "./blocks.js";

/** The modal's callback id (it has no inputs; Slack needs none for a read-only view). */
export const DETAILS_MODAL_CALLBACK = "mllead_plan_details";

function list(items: readonly string[], bullet = "•"): string {
  return items.map((i) => `${bullet} ${esc(i)}`).join("\n");
}

/** One step in the seed's handoff format: objective, context, requirements, acceptance criteria, next handoff. */
export function stepHandoff(step: Step, index: number, titles: Map<string, string>): string {
  const deps = step.dependsOn.length
    ? step.dependsOn.map((d) => `${esc(titles.get(d) ?? d)} (\`${esc(d)}\`)`).join(", ")
    : "nothing — can start first";
  const flags = [step.changesCode ? ":pencil2: changes code" : "", step.usesGpu ? ":zap: runs a GPU job" : ""].filter(Boolean);
  return [
    `*${index + 1}. ${esc(step.title)}* · \`${step.role}\` · \`${esc(step.id)}\``,
    `*Objective:* ${esc(step.objective)}`,
    step.context ? `*Context:* ${esc(step.context)}` : "",
    `*Requirements:*\n${list(step.requirements)}`,
    `*Acceptance criteria:*\n${list(
      step.acceptanceCriteria.map((c) => c.text),
      "☐",
    )}`,
    `*Next handoff:* → \`${step.nextHandoff.to}\`: ${esc(step.nextHandoff.reason)}`,
    `*Depends on:* ${deps}`,
    flags.join(" · "),
  ]
    .filter(Boolean)
    .join("\n");
}

/** The plan's shape and track, as the seed's decision framework names them, when the plan says. */
function shapeLine(plan: Plan): string {
  const parts = [
    plan.shape ? `*Shape:* \`${plan.shape}\`` : "",
    `*Track:* ${plan.track === "production" ? "production (correctness first)" : "experiment (speed first)"}`,
    `*Scope:* ${plan.scope}`,
  ];
  return parts.filter(Boolean).join(" · ");
}

/** What the plan takes as given, what it still asks, and the channel's lessons it follows: each only when there is one. */
function groundBlocks(plan: Plan): types.KnownBlock[] {
  const parts: string[] = [];
  if (plan.assumptions?.length) parts.push(`*Assumptions*\n${list(plan.assumptions)}`);
  if (plan.questions?.length) {
    const open = plan.questions.map((q, i) => `${i + 1}. ${esc(q.text)}`).join("\n");
    parts.push(`*Open questions* — answer them in the thread before approving\n${open}`);
  }
  if (plan.lessonsApplied?.length) parts.push(`*Lessons followed*\n${list(plan.lessonsApplied.map((l) => l.text))}`);
  return parts.flatMap((p) => sections(p));
}

function detailBlocks(plan: Plan): types.KnownBlock[] {
  const titles = new Map(plan.steps.map((s) => [s.id, s.title]));
  const risks = plan.risks.length
    ? `*Risks*\n${plan.risks.map((r) => `• ${esc(r.risk)} — _mitigation:_ ${esc(r.mitigation)}`).join("\n")}`
    : "*Risks*\nNone identified.";
  return [
    section(esc(plan.summary)),
    section(shapeLine(plan)),
    ...groundBlocks(plan),
    ...sections(risks),
    ...plan.steps.flatMap((s, i) => [divider, ...sections(stepHandoff(s, i, titles))]),
  ];
}

/**
 * The Details modal: the plan's shape, assumptions, open questions and lessons followed, the risks with mitigations,
 * and every step's full handoff (a modal holds 100 blocks).
 */
export function renderPlanDetails(plan: Plan, revision: number): types.ModalView {
  return {
    type: "modal",
    callback_id: DETAILS_MODAL_CALLBACK,
    // Slack caps a modal's title and close at 24 characters.
    title: { type: "plain_text", text: truncate(`Plan · revision ${revision}`, 24) },
    close: { type: "plain_text", text: "Close" },
    blocks: fitBlocks(withBrain(detailBlocks(plan), plan.brain), 100),
  };
}

/** The same details as a message only the person sees, when the modal cannot open (its trigger expired). */
export function renderPlanDetailsMessage(plan: Plan, revision: number): OutgoingMessage {
  return {
    text: fallback(`Plan revision ${revision}: every step's handoff`),
    blocks: fitBlocks(withBrain([header(`📋 Plan · revision ${revision} — details`), ...detailBlocks(plan)], plan.brain)),
  };
}

/** Said when the plan is no longer kept (its record expired after 30 days): a sentence, not a broken modal. */
export function planGoneMessage(revision: number): OutgoingMessage {
  const text = `The details of plan revision ${revision} are no longer kept. The plan message in the thread still has its summary and steps.`;
  return { text: fallback(text), blocks: [section(esc(text))] };
}

import type { EventOf, Step } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import type { OutgoingMessage } from "../slack-api.js";
import { context, divider, esc, fallback, fitBlocks, header, section, withBrain } from "./blocks.js";

/** Button action ids on the plan message. */
export const PLAN_ACTIONS = {
  approve: "mllead_approve",
  requestChanges: "mllead_request_changes",
  cancel: "mllead_cancel",
} as const;

/** What a plan button carries: the task and the revision the person was looking at. */
export interface PlanButtonValue {
  t: string;
  r: number;
}

function list(items: string[], bullet = "•"): string {
  return items.map((i) => `${bullet} ${esc(i)}`).join("\n");
}

function stepText(step: Step, index: number, titles: Map<string, string>): string {
  const deps = step.dependsOn.length
    ? step.dependsOn.map((d) => `${esc(titles.get(d) ?? d)} (\`${d}\`)`).join(", ")
    : "nothing — can start first";
  const flags = [step.changesCode ? ":pencil2: changes code" : "", step.usesGpu ? ":zap: runs a GPU job" : ""].filter(Boolean);
  return [
    `*${index + 1}. ${esc(step.title)}* · \`${step.role}\` · \`${step.id}\``,
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

/** The plan message: summary, scope, risks, every step in the seed's handoff format, and the decision buttons. */
export function renderPlan(event: EventOf<"task.planned">): OutgoingMessage {
  const { plan, revision, taskId } = event;
  const titles = new Map(plan.steps.map((s) => [s.id, s.title]));
  const value = JSON.stringify({ t: taskId, r: revision } satisfies PlanButtonValue);
  const actions: types.KnownBlock = {
    type: "actions",
    block_id: `plan_${revision}`,
    elements: [
      { type: "button", action_id: PLAN_ACTIONS.approve, text: { type: "plain_text", text: "Approve" }, style: "primary", value },
      { type: "button", action_id: PLAN_ACTIONS.requestChanges, text: { type: "plain_text", text: "Request changes" }, value },
      {
        type: "button",
        action_id: PLAN_ACTIONS.cancel,
        text: { type: "plain_text", text: "Cancel" },
        style: "danger",
        value,
        confirm: {
          title: { type: "plain_text", text: "Cancel this task?" },
          text: { type: "mrkdwn", text: "The plan is dropped and no step runs." },
          confirm: { type: "plain_text", text: "Cancel task" },
          deny: { type: "plain_text", text: "Keep it" },
        },
      },
    ],
  };
  const risks = plan.risks.length
    ? `*Risks*\n${plan.risks.map((r) => `• ${esc(r.risk)} — _mitigation:_ ${esc(r.mitigation)}`).join("\n")}`
    : "*Risks*\nNone identified.";
  const blocks: types.KnownBlock[] = [
    header(`📋 Plan · revision ${revision}`),
    ...(event.feedback ? [context(`Revised after: “${esc(event.feedback)}”`)] : []),
    section(esc(plan.summary)),
    section(
      `*Scope:* ${plan.scope === "multi-agent" ? "multi-agent (orchestrated)" : "single agent"} · *Steps:* ${plan.steps.length} · *Requested by* <@${event.requester}>`,
    ),
    section(risks),
    divider,
    ...plan.steps.map((s, i) => section(stepText(s, i, titles))),
    divider,
    actions,
    ...withBrain(
      [
        context(
          "Approve with the button, a :white_check_mark: reaction or a reply `approve`. Reply `changes: …` to revise, `cancel` to stop.",
        ),
      ],
      plan.brain,
    ),
  ];
  return { text: fallback(`Plan revision ${revision}: ${plan.summary}`), blocks: fitBlocks(blocks) };
}

/** Reads a plan button's value; null when it is not one of ours. */
export function parsePlanButtonValue(value: string | undefined): PlanButtonValue | null {
  if (!value) return null;
  try {
    const v = JSON.parse(value) as Partial<PlanButtonValue>;
    return typeof v.t === "string" && typeof v.r === "number" ? { t: v.t, r: v.r } : null;
  } catch {
    return null;
  }
}

import type { EventOf, Plan } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import { z } from "zod";
import type { OutgoingMessage } from "../slack-api.js";
import { context, esc, fallback, fitBlocks, header, mention, section, sections, truncate, withBrain } from "./blocks.js";
import { assumptionBlocks, questionBlocks } from "./plan-questions.js";
import { parseSlackJson } from "./slack-json.js";

/** Button action ids on the plan message. */
export const PLAN_ACTIONS = {
  approve: "mllead_approve",
  requestChanges: "mllead_request_changes",
  cancel: "mllead_cancel",
  /** Opens the modal with every step's full handoff. */
  details: "mllead_plan_details",
} as const;

/** What a plan button carries: the task and the revision the person was looking at. */
export const PlanButtonValue = z.object({ t: z.string(), r: z.number() });
export type PlanButtonValue = z.infer<typeof PlanButtonValue>;

function button(actionId: string, text: string, value: string, style?: "primary" | "danger"): types.Button {
  return { type: "button", action_id: actionId, text: { type: "plain_text", text }, value, ...(style ? { style } : {}) };
}

/** "after 1, 2" — a step's dependencies by their number in the plan. */
function after(step: Plan["steps"][number], numbers: Map<string, number>): string {
  if (step.dependsOn.length === 0) return "starts first";
  return `after ${step.dependsOn.map((d) => numbers.get(d) ?? esc(d)).join(", ")}`;
}

/** The steps as one compact list: number, title, role, what it waits for. */
export function stepList(plan: Pick<Plan, "steps">): string {
  const numbers = new Map(plan.steps.map((s, i) => [s.id, i + 1]));
  return plan.steps
    .map((s, i) => {
      const flags = `${s.usesGpu ? " :zap:" : ""}${s.changesCode ? " :pencil2:" : ""}`;
      return `${i + 1}. *${esc(truncate(s.title, 90))}* · \`${s.role}\` · ${after(s, numbers)}${flags}`;
    })
    .join("\n");
}

/**
 * The plan message, read at a glance: the summary, the steps as one compact list (title, role,
 * what each waits for), the number of risks, and the buttons. Each step's full handoff (objective,
 * context, requirements, acceptance criteria, next handoff) is one click away behind Details.
 */
export function renderPlan(event: EventOf<"task.planned">): OutgoingMessage {
  const { plan, revision, taskId } = event;
  const value = JSON.stringify({ t: taskId, r: revision } satisfies PlanButtonValue);
  const actions: types.KnownBlock = {
    type: "actions",
    block_id: `plan_${revision}`,
    elements: [
      button(PLAN_ACTIONS.approve, "Approve", value, "primary"),
      button(PLAN_ACTIONS.requestChanges, "Request changes", value),
      button(PLAN_ACTIONS.details, "Details", value),
      {
        ...button(PLAN_ACTIONS.cancel, "Cancel", value, "danger"),
        confirm: {
          title: { type: "plain_text", text: "Cancel this task?" },
          text: { type: "mrkdwn", text: "The plan is dropped and no step runs." },
          confirm: { type: "plain_text", text: "Cancel task" },
          deny: { type: "plain_text", text: "Keep it" },
        },
      },
    ],
  };
  const gpu = plan.steps.filter((s) => s.usesGpu).length;
  const facts = [
    plan.risks.length === 0
      ? ":white_check_mark: no risks identified"
      : `:warning: ${plan.risks.length} risk${plan.risks.length === 1 ? "" : "s"}`,
    gpu ? `:zap: ${gpu} GPU step${gpu === 1 ? "" : "s"}` : "",
    plan.scope === "multi-agent" ? "multi-agent" : "single agent",
    `requested by ${mention(event.requester)}`,
  ].filter(Boolean);
  const blocks: types.KnownBlock[] = [
    header(`📋 Plan · revision ${revision}`),
    ...(event.feedback ? [context(`Revised after: “${esc(truncate(event.feedback, 300))}”`)] : []),
    section(esc(truncate(plan.summary, 1200))),
    ...(plan.lessonsApplied?.length
      ? [context(`:bulb: Lessons applied: ${plan.lessonsApplied.map((l) => `\`${l.id}\` ${esc(l.text)}`).join(" · ")}`)]
      : []),
    ...sections(`*${plan.steps.length} step${plan.steps.length === 1 ? "" : "s"}*\n${stepList(plan)}`),
    ...assumptionBlocks(plan),
    ...questionBlocks(event),
    context(
      facts.join(" · "),
      "*Details*: each step's objective, context, requirements, acceptance criteria and next handoff, and the risks with their mitigations.",
    ),
    actions,
    ...withBrain(
      [
        context(
          plan.questions?.length
            ? "Answer the questions above first; Approve opens on the revised plan. Reply `changes: …` to revise, `cancel` to stop."
            : "Approve with the button, a :white_check_mark: reaction or a reply `approve`. Reply `changes: …` to revise, `cancel` to stop.",
        ),
      ],
      plan.brain,
    ),
  ];
  return {
    text: fallback(
      `Plan revision ${revision} (${plan.steps.length} steps, ${plan.risks.length} risks): ${plan.summary}${plan.questions?.length ? ` Questions: ${plan.questions.map((q) => q.text).join(" ")}` : ""}`,
    ),
    blocks: fitBlocks(blocks),
  };
}

/** Reads a plan button's value; null when it is not one of ours. */
export function parsePlanButtonValue(value: string | undefined): PlanButtonValue | null {
  return parseSlackJson(PlanButtonValue, value);
}

import { type BrainKind, type EventOf, formatUsd, type LeadCall, type TaskView } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import { z } from "zod";
import type { OutgoingMessage } from "../slack-api.js";
import { context, esc, fallback, mention, section, truncate, withBrain } from "./blocks.js";
import { taskCostLine } from "./cost.js";
import { parseSlackJson } from "./slack-json.js";

/**
 * The questions the tech lead asks in a thread besides the plan: run a Claude call again that failed
 * (Retry), and go on past the task's budget or stop (Go on / Stop). Each has buttons and a reply form.
 */

/** Button action ids of the questions. */
export const QUESTION_ACTIONS = {
  retry: "mllead_retry",
  goOn: "mllead_budget_go_on",
  stop: "mllead_budget_stop",
} as const;

/** What a question's button carries: the task, and for a budget question its number. */
export const QuestionButtonValue = z
  .object({ t: z.string(), a: z.number().int().positive().optional().catch(undefined) })
  .transform(({ t, a }): { t: string; a?: number } => (a === undefined ? { t } : { t, a }));
export type QuestionButtonValue = z.output<typeof QuestionButtonValue>;

const CALL_NOUN: Record<LeadCall, string> = { plan: "a plan", revision: "a revised plan", summary: "the summary" };

function button(actionId: string, text: string, value: QuestionButtonValue, style?: "primary" | "danger"): types.Button {
  return {
    type: "button",
    action_id: actionId,
    text: { type: "plain_text", text },
    value: JSON.stringify(value),
    ...(style ? { style } : {}),
  };
}

/** `12:04 UTC` of an ISO time. */
function clock(iso: string): string {
  return `${iso.slice(11, 16)} UTC`;
}

/**
 * Claude could not write the plan, revision or summary. With `retryAt` the tech lead retries by itself
 * (an overloaded API); otherwise a Retry button and the `retry` reply.
 */
export function renderBrainFailed(e: EventOf<"task.brain_failed">, brain: BrainKind | undefined): OutgoingMessage {
  const tries = e.attempt > 1 ? `, ${e.attempt} tries in a row` : "";
  const what = `:warning: *Claude could not write ${CALL_NOUN[e.call]}* (\`${esc(e.code)}\`${tries})\n> ${esc(truncate(e.message, 1500)).replace(/\n/g, "\n> ")}`;
  const kept = e.call === "summary" ? "The steps' work and results are kept." : "Nothing about the task is lost.";
  if (e.retryAt) {
    return {
      text: fallback(`Claude could not write ${CALL_NOUN[e.call]}; trying again at ${clock(e.retryAt)}: ${e.message}`),
      blocks: withBrain(
        [
          section(what),
          context(
            `:hourglass_flowing_sand: I will try again by myself at ${clock(e.retryAt)}. ${kept} Reply \`retry\` to try now, \`cancel\` to drop the task.`,
          ),
        ],
        brain,
      ),
    };
  }
  const actions: types.KnownBlock = {
    type: "actions",
    block_id: `retry_${e.eventId.slice(-200)}`,
    elements: [button(QUESTION_ACTIONS.retry, "Retry", { t: e.taskId }, "primary")],
  };
  return {
    text: fallback(`Claude could not write ${CALL_NOUN[e.call]}: ${e.message} Press Retry or reply "retry".`),
    blocks: withBrain(
      [
        section(what),
        actions,
        context(`${kept} Press *Retry* or reply \`retry\` to ask Claude again; \`cancel\` drops the task.`),
      ],
      brain,
    ),
  };
}

/** A failed call runs again. */
export function renderRetrying(e: EventOf<"task.retrying">, brain: BrainKind | undefined): OutgoingMessage {
  const who = e.userId ? `${mention(e.userId)} asked to try again` : "Trying again";
  return {
    text: fallback(`Trying again: writing ${CALL_NOUN[e.call]}.`),
    blocks: withBrain([section(`:repeat: ${who}: writing ${CALL_NOUN[e.call]}…`)], brain),
  };
}

/** The task's cost reached its budget: no step starts until someone answers Go on or Stop. */
export function renderBudgetReached(e: EventOf<"task.budget_reached">, brain: BrainKind | undefined): OutgoingMessage {
  const spent = formatUsd({ costUsd: e.costUsd, ...(e.unpricedModels ? { unpricedModels: e.unpricedModels } : {}) });
  const budget = formatUsd({ costUsd: e.budgetUsd });
  const raise = formatUsd({ costUsd: e.raiseUsd });
  const value = { t: e.taskId, a: e.ask };
  const actions: types.KnownBlock = {
    type: "actions",
    block_id: `budget_${e.ask}`,
    elements: [
      button(QUESTION_ACTIONS.goOn, `Go on (+${raise})`, value, "primary"),
      {
        ...button(QUESTION_ACTIONS.stop, "Stop", value, "danger"),
        confirm: {
          title: { type: "plain_text", text: "Stop this task?" },
          text: { type: "mrkdwn", text: "The task is cancelled; no further step runs." },
          confirm: { type: "plain_text", text: "Stop the task" },
          deny: { type: "plain_text", text: "Keep it" },
        },
      },
    ],
  };
  const unpriced = e.unpricedModels?.length ? ` (at least: no price is known for ${e.unpricedModels.map(esc).join(", ")})` : "";
  return {
    text: fallback(`This task has used ${spent} of its ${budget} budget; go on? Reply "go on" or "stop".`),
    blocks: withBrain(
      [
        section(
          `:money_with_wings: *Budget reached.* This task has used *${spent}* of its *${budget}* budget${unpriced}; go on?\nNo new step starts until ${mention(e.requester)} or an approver answers; steps already running finish.`,
        ),
        actions,
        context(`Reply \`go on\` to allow another ${raise}, or \`stop\` to cancel the task.`),
      ],
      brain,
    ),
  };
}

/** Someone answered "go on": the new budget. */
export function renderBudgetRaised(e: EventOf<"task.budget_raised">, brain: BrainKind | undefined): OutgoingMessage {
  const budget = formatUsd({ costUsd: e.budgetUsd });
  const spent = formatUsd({ costUsd: e.costUsd });
  return {
    text: fallback(`Going on: the budget is now ${budget} (${spent} spent).`),
    blocks: withBrain(
      [section(`:arrow_forward: ${mention(e.userId)} said go on: the budget is now *${budget}* (${spent} spent so far).`)],
      brain,
    ),
  };
}

/** Reads a question button's value; null when it is not one of ours. */
export function parseQuestionButtonValue(value: string | undefined): QuestionButtonValue | null {
  return parseSlackJson(QuestionButtonValue, value);
}

/** What a task waits for, on one line: a retry, an automatic retry, or a budget answer. */
export function waitingLine(w: NonNullable<TaskView["waiting"]>): string {
  switch (w.kind) {
    case "retry":
      return `:raised_hand: _Waiting for a retry:_ ${esc(truncate(w.message, 300))} Reply \`retry\`.`;
    case "auto_retry":
      return `:hourglass_flowing_sand: _Claude is busy; trying again${w.at ? ` at ${clock(w.at)}` : " soon"}._`;
    case "budget":
      return `:money_with_wings: _${esc(truncate(w.message, 300))}_ Reply \`go on\` or \`stop\`.`;
    default: {
      const never: never = w.kind;
      return String(never);
    }
  }
}

/** The status card's notes: what the task waits for, and what it cost so far. */
export function cardNotes(view: TaskView): string[] {
  const cost = taskCostLine(view);
  return [...(view.waiting ? [waitingLine(view.waiting)] : []), ...(cost ? [cost] : [])];
}

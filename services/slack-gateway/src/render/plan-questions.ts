import type { EventOf, Plan } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import { z } from "zod";
import { context, esc, section, truncate } from "./blocks.js";
import { parseSlackJson } from "./slack-json.js";

/** Answer buttons are `mllead_answer_<choice index>` (unique within their question's actions block). */
export const ANSWER_ACTION = /^mllead_answer_(\d+)$/;

/** What an answer button carries: the task, the plan revision, the question's id and the choice's index. */
export const AnswerButtonValue = z.object({
  t: z.string(),
  r: z.number().int().nonnegative(),
  q: z.string(),
  c: z.number().int().nonnegative(),
});
export type AnswerButtonValue = z.infer<typeof AnswerButtonValue>;

/** The plan's assumptions as one context line, or nothing. */
export function assumptionBlocks(plan: Plan): types.KnownBlock[] {
  const list = plan.assumptions ?? [];
  if (list.length === 0) return [];
  return [context(`:memo: *Assumptions:* ${list.map((a) => esc(truncate(a, 300))).join(" · ")}`)];
}

/**
 * The plan's questions, each with a button per choice it offers; they must be answered (buttons or a reply
 * `answer: …`) before the plan can be approved: the tech lead then revises the plan with the answers.
 */
export function questionBlocks(event: EventOf<"task.planned">): types.KnownBlock[] {
  const questions = event.plan.questions ?? [];
  if (questions.length === 0) return [];
  const blocks: types.KnownBlock[] = [
    section(
      `:question: *Before this plan can be approved, please answer ${questions.length === 1 ? "this question" : `these ${questions.length} questions`}:*`,
    ),
  ];
  questions.forEach((q, i) => {
    blocks.push(section(`*${i + 1}.* ${esc(truncate(q.text, 500))}`));
    if (!q.choices?.length) return;
    blocks.push({
      type: "actions",
      // By position: two questions with the same id must not make the message invalid.
      block_id: `answer_${event.revision}_${i}`,
      elements: q.choices.map((choice, c) => ({
        type: "button" as const,
        action_id: `mllead_answer_${c}`,
        text: { type: "plain_text" as const, text: truncate(choice, 75) },
        value: JSON.stringify({ t: event.taskId, r: event.revision, q: q.id, c } satisfies AnswerButtonValue),
      })),
    });
  });
  blocks.push(
    context(
      "Answer with a button, or reply in this thread (`answer: …`, or just your answer); one reply answers every open question. I revise the plan with your answers, and the revision can be approved.",
    ),
  );
  return blocks;
}

/** Reads an answer button's value; null when it is not one of ours. */
export function parseAnswerButtonValue(value: string | undefined): AnswerButtonValue | null {
  return parseSlackJson(AnswerButtonValue, value);
}

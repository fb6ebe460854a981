import type { types } from "@slack/bolt";
import { z } from "zod";
import { parseSlackJson } from "./slack-json.js";

/** The ids of the Request-changes modal: its callback, and the block and action of its one input. */
export const CHANGES_MODAL = {
  callbackId: "mllead_changes",
  blockId: "changes",
  actionId: "feedback",
  /** The input's `max_length`; Slack's own ceiling for a plain_text_input is 3000. */
  maxChars: 3000,
} as const;

/** What the modal carries in `private_metadata`: the plan it revises and the thread it came from. */
export const ChangesModalMeta = z.object({ taskId: z.string(), revision: z.number(), channel: z.string(), threadTs: z.string() });
export type ChangesModalMeta = z.infer<typeof ChangesModalMeta>;

/** The modal a Request changes click opens: one required multiline box, "What should change?". */
export function renderChangesModal(meta: ChangesModalMeta): types.ModalView {
  return {
    type: "modal",
    callback_id: CHANGES_MODAL.callbackId,
    // Slack caps title, submit and close at 24 characters each.
    title: { type: "plain_text", text: "Request changes" },
    submit: { type: "plain_text", text: "Send to tech lead" },
    close: { type: "plain_text", text: "Cancel" },
    private_metadata: JSON.stringify(meta),
    blocks: [
      {
        type: "section",
        text: {
          type: "mrkdwn",
          text: `The tech lead revises plan revision ${meta.revision} with what you write here and posts the new plan in the thread.`,
        },
      },
      {
        type: "input",
        block_id: CHANGES_MODAL.blockId,
        label: { type: "plain_text", text: "What should change?" },
        element: {
          type: "plain_text_input",
          action_id: CHANGES_MODAL.actionId,
          multiline: true,
          max_length: CHANGES_MODAL.maxChars,
          placeholder: { type: "plain_text", text: "e.g. use AUC instead of accuracy, and train for 25 epochs" },
        },
      },
      { type: "context", elements: [{ type: "mrkdwn", text: "You can also reply `changes: …` in the thread." }] },
    ],
  };
}

/** Reads the modal's `private_metadata`; null when it is not one this gateway wrote. */
export function parseChangesModalMeta(raw: string | undefined): ChangesModalMeta | null {
  return parseSlackJson(ChangesModalMeta, raw);
}

/** The feedback typed into the modal, trimmed (Slack sends `null` for an empty box); "" when there is none. */
export function changesFeedback(values: Record<string, Record<string, { value?: string | null }>> | undefined): string {
  const v = values?.[CHANGES_MODAL.blockId]?.[CHANGES_MODAL.actionId]?.value;
  return typeof v === "string" ? v.trim().slice(0, CHANGES_MODAL.maxChars) : "";
}

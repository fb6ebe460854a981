import type { types } from "@slack/bolt";
import { z } from "zod";
import { esc, truncate } from "./blocks.js";
import { parseSlackJson } from "./slack-json.js";

/** The message shortcut "Ask @mllead" and the modal it opens. */
export const ASK = {
  /** The shortcut's callback id (in the app manifest). */
  shortcut: "mllead_ask",
  callbackId: "mllead_ask_submit",
  blockId: "ask",
  actionId: "instruction",
  maxChars: 2000,
} as const;

/** What the modal carries in `private_metadata`: the message it was opened on. */
export const AskMeta = z
  .object({
    channel: z.string(),
    messageTs: z.string(),
    threadTs: z.string(),
    author: z.string().optional().catch(undefined),
    /** The message's text, cut so the metadata stays under Slack's 3000 characters. */
    text: z.string().catch(""),
  })
  .transform(({ author, ...m }): { channel: string; messageTs: string; threadTs: string; text: string; author?: string } =>
    author === undefined ? m : { ...m, author },
  );
export type AskMeta = z.output<typeof AskMeta>;

/** Metadata JSON within Slack's 3000 characters: the message text is cut until it fits. */
export function askMetadata(meta: AskMeta): string {
  let text = meta.text;
  for (;;) {
    const json = JSON.stringify({ ...meta, text });
    if (json.length <= 2900 || text.length === 0) return json;
    text = text.slice(0, Math.floor(text.length * 0.8));
  }
}

/** Reads the modal's metadata; null when it is not one this gateway wrote. */
export function parseAskMetadata(raw: string | undefined): AskMeta | null {
  return parseSlackJson(AskMeta, raw);
}

/** The modal: the message quoted, and one box for what @mllead should do with it. */
export function renderAskModal(meta: AskMeta): types.ModalView {
  const quoted = meta.text ? `> ${esc(truncate(meta.text, 600)).replace(/\n/g, "\n> ")}` : "_(a message without text)_";
  return {
    type: "modal",
    callback_id: ASK.callbackId,
    title: { type: "plain_text", text: "Ask @mllead" },
    submit: { type: "plain_text", text: "Ask" },
    close: { type: "plain_text", text: "Cancel" },
    private_metadata: askMetadata(meta),
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `*About this message*\n${quoted}` } },
      {
        type: "input",
        block_id: ASK.blockId,
        label: { type: "plain_text", text: "What should @mllead do with it?" },
        element: {
          type: "plain_text_input",
          action_id: ASK.actionId,
          multiline: true,
          max_length: ASK.maxChars,
          placeholder: { type: "plain_text", text: "e.g. find out why the validation loss is flat and fix it" },
        },
      },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: "The plan appears in this message's thread, for you to approve." }],
      },
    ],
  };
}

/** The task text: the instruction, then the message it is about. */
export function askTaskText(instruction: string, meta: AskMeta, limit = 4000): string {
  const author = meta.author && /^[UW][A-Z0-9]{1,30}$/.test(meta.author) ? ` from <@${meta.author}>` : "";
  const about = meta.text ? `\n\nAbout this message${author}:\n${meta.text}` : "";
  return truncate(`${instruction.trim()}${about}`, limit);
}

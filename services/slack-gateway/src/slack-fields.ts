import { z } from "zod";

/**
 * The ceilings the gateway holds Slack's requests to. Slack's own limits where Slack has one;
 * `taskText` is what a mention or reply may carry into mllead (TaskCreate's and TaskDecide's ceiling).
 */
export const INPUT_LIMITS = {
  /**
   * Request body in bytes. Slack's largest payloads (a 40,000-character message with its rich-text
   * blocks, a modal's state) stay far below 1 MiB; Bolt's own default is 4 MB.
   */
  bodyBytes: 1024 * 1024,
  /** Characters of a mention, reply or `/mllead` text that reach NATS; longer is trimmed and the person told. */
  taskText: 4000,
  /** Slack's ceiling for a message's text (chat.postMessage truncates beyond it). */
  messageText: 40_000,
  /** Slack's ceilings: button `value` 2000, `action_id`/`block_id`/`callback_id` 255, `private_metadata` 3000. */
  actionValue: 2000,
  identifier: 255,
  privateMetadata: 3000,
  /** A plain_text_input's `max_length` ceiling. */
  inputValue: 3000,
  /** Slack's request timestamp must be within this many seconds of ours, either way. */
  signatureWindowSec: 300,
} as const;

/** Workspace, user, channel, bot and app ids: `U0ALICE`, `C024BE91L`, `T0SANDBOX`. */
export const SlackId = z.string().regex(/^[A-Z0-9]{1,40}$/, "not a Slack id");
/** Message timestamps: `1700000000.000100`. */
export const Ts = z.string().regex(/^\d{1,12}\.\d{1,9}$/, "not a Slack message ts");
export const Identifier = z.string().min(1).max(INPUT_LIMITS.identifier);
export const ShortText = z.string().max(INPUT_LIMITS.identifier);
export const Url = z.url().max(2000);
export const Team = z.looseObject({ id: SlackId, enterprise_id: SlackId.optional() });
export const Enterprise = z.looseObject({ id: SlackId });
export const User = z.looseObject({ id: SlackId, team_id: SlackId.optional() });

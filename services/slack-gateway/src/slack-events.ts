import { z } from "zod";
import { ShortText, SlackId, Ts } from "./slack-fields.js";

/** The fields of `app_mention` the gateway and Bolt read; anything else is dropped before NATS. */
const AppMentionEvent = z.object({
  type: z.literal("app_mention"),
  user: SlackId.optional(),
  bot_id: SlackId.optional(),
  text: z.string(),
  ts: Ts,
  thread_ts: Ts.optional(),
  channel: SlackId,
  event_ts: Ts.optional(),
  team: SlackId.optional(),
});

/** `message` (thread replies and their subtypes: edits, deletions, joins, bots). */
const MessageEvent = z.object({
  type: z.literal("message"),
  subtype: ShortText.optional(),
  user: SlackId.optional(),
  bot_id: SlackId.optional(),
  text: z.string().optional(),
  ts: Ts,
  thread_ts: Ts.optional(),
  channel: SlackId,
  channel_type: ShortText.optional(),
  event_ts: Ts.optional(),
  team: SlackId.optional(),
});

const ReactionAddedEvent = z.object({
  type: z.literal("reaction_added"),
  user: SlackId,
  reaction: z.string().min(1).max(100),
  item_user: SlackId.optional(),
  item: z.union([
    z.object({ type: z.literal("message"), channel: SlackId, ts: Ts }),
    z.object({ type: z.enum(["file", "file_comment"]), file: ShortText.optional(), file_comment: ShortText.optional() }),
  ]),
  event_ts: Ts.optional(),
});

/** A person opened the app's Home tab (the gateway publishes it then). */
const AppHomeOpenedEvent = z.object({
  type: z.literal("app_home_opened"),
  user: SlackId,
  channel: SlackId.optional(),
  tab: z.enum(["home", "messages", "about"]),
  view: z.looseObject({ id: ShortText.optional(), hash: ShortText.optional() }).optional(),
  event_ts: Ts.optional(),
});

/** The Events API event types mllead listens to; any other type is acknowledged and ignored. */
export const HandledEvent = z.discriminatedUnion("type", [AppMentionEvent, MessageEvent, ReactionAddedEvent, AppHomeOpenedEvent]);
export const HANDLED_EVENT_TYPES: ReadonlySet<string> = new Set(["app_mention", "message", "reaction_added", "app_home_opened"]);

const Authorization = z.object({
  enterprise_id: SlackId.nullable().optional(),
  team_id: SlackId.nullable().optional(),
  user_id: SlackId,
  is_bot: z.boolean().optional(),
  is_enterprise_install: z.boolean().optional(),
});

const EnvelopeFields = {
  type: z.literal("event_callback"),
  event_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "not a Slack event id"),
  event_time: z.number().int().nonnegative().optional(),
  team_id: SlackId.optional(),
  api_app_id: SlackId.optional(),
  enterprise_id: SlackId.nullable().optional(),
  is_ext_shared_channel: z.boolean().optional(),
  authorizations: z.array(Authorization).max(10).optional(),
};

/** An Events API delivery as it travels through the gateway's inbox: only the fields mllead reads. */
export const EventEnvelope = z.object({ ...EnvelopeFields, event: HandledEvent });
export type EventEnvelope = z.infer<typeof EventEnvelope>;

export const EnvelopeHead = z.object({ ...EnvelopeFields, event: z.looseObject({ type: z.string().min(1).max(64) }) });

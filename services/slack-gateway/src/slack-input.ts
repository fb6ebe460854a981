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
const SlackId = z.string().regex(/^[A-Z0-9]{1,40}$/, "not a Slack id");
/** Message timestamps: `1700000000.000100`. */
const Ts = z.string().regex(/^\d{1,12}\.\d{1,9}$/, "not a Slack message ts");
const Identifier = z.string().min(1).max(INPUT_LIMITS.identifier);
const ShortText = z.string().max(INPUT_LIMITS.identifier);
const Url = z.url().max(2000);
const Team = z.looseObject({ id: SlackId, enterprise_id: SlackId.optional() });
const Enterprise = z.looseObject({ id: SlackId });
const User = z.looseObject({ id: SlackId, team_id: SlackId.optional() });

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
const HANDLED_EVENT_TYPES: ReadonlySet<string> = new Set(["app_mention", "message", "reaction_added", "app_home_opened"]);

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

const EnvelopeHead = z.object({ ...EnvelopeFields, event: z.looseObject({ type: z.string().min(1).max(64) }) });

const Message = z.looseObject({
  ts: Ts,
  thread_ts: Ts.optional(),
  user: SlackId.optional(),
  text: z.string().max(INPUT_LIMITS.messageText).optional(),
});

const Action = z.looseObject({
  type: z.string().min(1).max(64),
  action_id: Identifier,
  block_id: ShortText.optional(),
  value: z.string().max(INPUT_LIMITS.actionValue).optional(),
  action_ts: Ts.optional(),
});

const InteractionFields = {
  user: User,
  team: Team.nullable().optional(),
  enterprise: Enterprise.nullable().optional(),
  api_app_id: SlackId.optional(),
  trigger_id: ShortText.optional(),
  response_url: Url.optional(),
  is_enterprise_install: z.boolean().optional(),
};

const StateValue = z.looseObject({ type: ShortText, value: z.string().max(INPUT_LIMITS.inputValue).nullable().optional() });

const View = z.looseObject({
  id: z.string().regex(/^[A-Z0-9]{1,40}$/, "not a Slack view id"),
  type: ShortText.optional(),
  callback_id: ShortText.optional(),
  private_metadata: z.string().max(INPUT_LIMITS.privateMetadata).optional(),
  app_installed_team_id: SlackId.optional(),
  state: z.looseObject({ values: z.record(ShortText, z.record(ShortText, StateValue)) }).optional(),
});

const BlockActions = z.looseObject({
  ...InteractionFields,
  type: z.literal("block_actions"),
  actions: z.array(Action).min(1).max(25),
  channel: z.looseObject({ id: SlackId }).optional(),
  container: z
    .looseObject({
      type: ShortText,
      message_ts: Ts.optional(),
      channel_id: SlackId.optional(),
      thread_ts: Ts.optional(),
      view_id: ShortText.optional(),
    })
    .optional(),
  message: Message.optional(),
  view: View.optional(),
});

const ViewAction = z.looseObject({ ...InteractionFields, type: z.enum(["view_submission", "view_closed"]), view: View });

const Shortcut = z.looseObject({
  ...InteractionFields,
  type: z.enum(["shortcut", "message_action"]),
  callback_id: Identifier,
  channel: z.looseObject({ id: SlackId }).optional(),
  message: Message.optional(),
  message_ts: Ts.optional(),
});

/** Interactivity payloads mllead uses; other payload types are acknowledged and ignored. */
const Interaction = z.discriminatedUnion("type", [BlockActions, ViewAction, Shortcut]);
const INTERACTION_TYPES: ReadonlySet<string> = new Set([
  "block_actions",
  "view_submission",
  "view_closed",
  "shortcut",
  "message_action",
]);

/** A slash command's form fields. */
const SlashCommand = z.looseObject({
  command: z.string().regex(/^\/[a-z0-9_.-]{1,31}$/, "not a slash command"),
  text: z.string(),
  user_id: SlackId,
  channel_id: SlackId,
  team_id: SlackId,
  enterprise_id: SlackId.optional(),
  user_name: ShortText.optional(),
  channel_name: ShortText.optional(),
  team_domain: ShortText.optional(),
  api_app_id: SlackId.optional(),
  is_enterprise_install: z.enum(["true", "false"]).optional(),
  trigger_id: ShortText.optional(),
  response_url: Url.optional(),
});

const UrlVerification = z.object({ type: z.literal("url_verification"), challenge: z.string().min(1).max(200) });

/** A text field that was longer than the gateway takes: trimmed to `limit` on the way in. */
export const Oversized = z.object({ field: z.string(), length: z.number().int(), limit: z.number().int() });
export type Oversized = z.infer<typeof Oversized>;

/** What the gateway makes of one correctly signed request body. */
export type SlackInput =
  | { kind: "ssl_check" }
  | { kind: "url_verification"; challenge: string }
  /** An Events API delivery to make durable, then acknowledge. */
  | { kind: "event"; envelope: EventEnvelope; oversized?: Oversized }
  /** An interaction or slash command: Bolt's listeners run while Slack waits for their ack. */
  | { kind: "interactive"; body: Record<string, unknown>; oversized?: Oversized }
  /** Well-formed, but nothing mllead listens to: acknowledged and dropped. */
  | { kind: "ignored"; reason: string }
  /** Malformed: refused with a 4xx and this short reason. */
  | { kind: "refused"; reason: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The first problem zod found, as `path: message`, short enough for an HTTP answer. */
function firstIssue(prefix: string, err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return `${prefix}: invalid`;
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
  return `${path}: ${issue.message}`.slice(0, 200);
}

function trimText<T extends object>(value: T, field: string): { value: T; oversized?: Oversized } {
  const text = "text" in value ? value.text : undefined;
  if (typeof text !== "string" || text.length <= INPUT_LIMITS.taskText) return { value };
  return {
    value: { ...value, text: text.slice(0, INPUT_LIMITS.taskText) },
    oversized: { field, length: text.length, limit: INPUT_LIMITS.taskText },
  };
}

function classifyEvent(body: Record<string, unknown>): SlackInput {
  const head = EnvelopeHead.safeParse(body);
  if (!head.success) return { kind: "refused", reason: firstIssue("", head.error) };
  if (!HANDLED_EVENT_TYPES.has(head.data.event.type)) {
    return { kind: "ignored", reason: `event type ${head.data.event.type} is not used by mllead` };
  }
  const event = HandledEvent.safeParse(head.data.event);
  if (!event.success) return { kind: "refused", reason: firstIssue("event", event.error) };
  const { value, oversized } = trimText(event.data, "event.text");
  return { kind: "event", envelope: { ...head.data, event: value }, ...(oversized ? { oversized } : {}) };
}

function classifyInteraction(payload: Record<string, unknown>): SlackInput {
  if (typeof payload.type !== "string" || !INTERACTION_TYPES.has(payload.type)) {
    return typeof payload.type === "string" && payload.type.length <= 64
      ? { kind: "ignored", reason: `payload type ${payload.type} is not used by mllead` }
      : { kind: "refused", reason: "payload.type: expected one of Slack's interaction types" };
  }
  const parsed = Interaction.safeParse(payload);
  if (!parsed.success) return { kind: "refused", reason: firstIssue("payload", parsed.error) };
  return { kind: "interactive", body: parsed.data };
}

/**
 * Classifies a parsed, correctly signed request body: Slack's handshakes, an Events API
 * delivery, an interaction or a slash command, something to ignore, or something to refuse.
 * Every field mllead or Bolt reads is checked here, so no malformed body reaches a listener.
 */
export function classifySlackInput(body: unknown, form: boolean): SlackInput {
  if (!isRecord(body)) return { kind: "refused", reason: "body: expected a JSON object" };
  if (form && body.ssl_check === "1") return { kind: "ssl_check" };
  if (body.type === "url_verification") {
    const v = UrlVerification.safeParse(body);
    return v.success
      ? { kind: "url_verification", challenge: v.data.challenge }
      : { kind: "refused", reason: firstIssue("", v.error) };
  }
  if (body.type === "event_callback") return classifyEvent(body);
  if (form && "command" in body) {
    const c = SlashCommand.safeParse(body);
    if (!c.success) return { kind: "refused", reason: firstIssue("", c.error) };
    const { value, oversized } = trimText(c.data, "text");
    return { kind: "interactive", body: value, ...(oversized ? { oversized } : {}) };
  }
  // Interactivity arrives as one `payload` form field, which Bolt has already parsed into the body.
  if (form && typeof body.type === "string") return classifyInteraction(body);
  return { kind: "refused", reason: "body: not an event, interaction or slash command" };
}

/** Whether a signed request's timestamp (seconds) lies within Slack's window of `nowMs`, either way. */
export function withinSignatureWindow(timestampSec: number, nowMs: number): boolean {
  return Number.isFinite(timestampSec) && Math.abs(nowMs / 1000 - timestampSec) <= INPUT_LIMITS.signatureWindowSec;
}

import { z } from "zod";
import { EnvelopeHead, type EventEnvelope, HANDLED_EVENT_TYPES, HandledEvent } from "./slack-events.js";
import { Enterprise, Identifier, INPUT_LIMITS, ShortText, SlackId, Team, Ts, Url, User } from "./slack-fields.js";

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

/** What the receiver adds to Bolt's context: `context.mllead` in every listener. */
export interface MlleadContext {
  /** The text was longer than mllead takes; the listener sees it trimmed and should tell the person. */
  oversized?: Oversized;
}

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

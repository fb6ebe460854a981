import type { BotIdentity } from "./core.js";
import type { SandboxMessage } from "./store.js";

/** Slack's legacy verification token, which every payload still carries. */
const TOKEN = "sandbox-verification-token";

/** Who acts and where, as an interaction payload names them. */
export interface Actor {
  user: string;
  channel: string;
  channelName: string;
  triggerId: string;
  responseUrl: string;
}

function userOf(user: string, bot: BotIdentity) {
  return { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: bot.teamId };
}

/** An Events API `event_callback` wrapping `event`, authorised for the bot. */
export function eventCallback(bot: BotIdentity, event: Record<string, unknown>, eventId: string, eventTs: string) {
  return {
    token: TOKEN,
    team_id: bot.teamId,
    api_app_id: bot.appId,
    event: { ...event, event_ts: eventTs },
    type: "event_callback",
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: bot.teamId, user_id: bot.userId, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  };
}

/** The button `actionId` in a message's `actions` blocks, with its block id; null when it has none. */
export function findButton(
  msg: SandboxMessage,
  actionId: string,
): { block_id?: string; element: Record<string, unknown> } | null {
  let found: { block_id?: string; element: Record<string, unknown> } | null = null;
  for (const b of (msg.blocks ?? []) as { type?: string; block_id?: string; elements?: Record<string, unknown>[] }[]) {
    const element = b.type === "actions" ? b.elements?.find((e) => e.action_id === actionId) : undefined;
    if (element) found = { ...(b.block_id ? { block_id: b.block_id } : {}), element };
  }
  return found;
}

/** A `block_actions` payload: `actor` clicked `button` on `msg`. */
export function blockActions(
  bot: BotIdentity,
  actor: Actor,
  msg: SandboxMessage,
  button: { block_id?: string; element: Record<string, unknown> },
  actionTs: string,
) {
  return {
    type: "block_actions",
    user: userOf(actor.user, bot),
    api_app_id: bot.appId,
    token: TOKEN,
    container: {
      type: "message",
      message_ts: msg.ts,
      channel_id: actor.channel,
      is_ephemeral: false,
      ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}),
    },
    trigger_id: actor.triggerId,
    team: { id: bot.teamId, domain: "mllead-sandbox" },
    channel: { id: actor.channel, name: actor.channelName },
    message: msg,
    response_url: actor.responseUrl,
    actions: [
      {
        action_id: button.element.action_id,
        block_id: button.block_id ?? "",
        text: button.element.text,
        value: button.element.value,
        type: button.element.type ?? "button",
        action_ts: actionTs,
      },
    ],
  };
}

/** A `message_action` payload: `actor` ran the message shortcut `callbackId` on `msg`. */
export function messageAction(bot: BotIdentity, actor: Actor, msg: SandboxMessage, callbackId: string) {
  return {
    type: "message_action",
    callback_id: callbackId,
    trigger_id: actor.triggerId,
    response_url: actor.responseUrl,
    team: { id: bot.teamId, domain: "mllead-sandbox" },
    channel: { id: actor.channel, name: actor.channelName },
    user: userOf(actor.user, bot),
    api_app_id: bot.appId,
    token: TOKEN,
    message_ts: msg.ts,
    message: {
      type: "message",
      ts: msg.ts,
      text: msg.text,
      ...(msg.user ? { user: msg.user } : {}),
      ...(msg.bot_id ? { bot_id: msg.bot_id } : {}),
      ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}),
    },
  };
}

/** A slash command's form fields: `actor` typed `command text`. */
export function slashCommandForm(bot: BotIdentity, actor: Actor, command: string, text: string): Record<string, string> {
  return {
    token: TOKEN,
    team_id: bot.teamId,
    team_domain: "mllead-sandbox",
    channel_id: actor.channel,
    channel_name: actor.channelName,
    user_id: actor.user,
    user_name: actor.user.toLowerCase(),
    command,
    text,
    api_app_id: bot.appId,
    is_enterprise_install: "false",
    response_url: actor.responseUrl,
    trigger_id: actor.triggerId,
  };
}

/** Slack's `url_verification` handshake body. */
export function urlVerificationBody(challenge: string): string {
  return JSON.stringify({ token: TOKEN, challenge, type: "url_verification" });
}

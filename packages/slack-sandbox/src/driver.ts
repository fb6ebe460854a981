import { randomBytes } from "node:crypto";
import type { SandboxCore } from "./core.js";
import { slackSignatureHeaders } from "./signing.js";
import type { EnvelopeType, SocketModeServer } from "./socket-mode.js";
import type { SandboxMessage } from "./store.js";
import { applyViewAnswer, type ViewValues, viewClosed, viewSubmission } from "./views.js";

/** What the app answered to one request Slack sent it. */
export interface Delivery {
  status: number;
  /** The response body as text (the app's ack). */
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
  /** How it reached the app: a signed HTTP request, or an envelope over a Socket Mode connection. */
  via?: "http" | "socket";
}

export interface PersonOptions {
  /** Who acts; defaults to the sandbox's human user. */
  user?: string;
  /** Where; defaults to the sandbox's first channel. */
  channel?: string;
}

export interface SentMessage extends Delivery {
  ts: string;
  channel: string;
  eventId: string;
}

/** What a person sees after a slash command: the app's ack, and any `response_url` answers. */
export interface SlashOutcome extends Delivery {
  /** The text shown to the person (the ack's text, else the first `response_url` answer's). */
  text: string;
  blocks: unknown[];
}

export interface SignOptions {
  /** Sign with this secret instead of the real one (a forged request). */
  signingSecret?: string;
  /** Use this request timestamp (seconds) instead of now (a stale request). */
  timestampSec?: number;
  /** Replays a retry the way Slack does. */
  retryNum?: number;
  retryReason?: string;
}

const FORM = "application/x-www-form-urlencoded";

function id(prefix: string): string {
  return `${prefix}${randomBytes(6).toString("hex").toUpperCase()}`;
}

/** Adds the bot mention the way Slack encodes it; `@mllead` typed by a person becomes `<@BOT>`. */
export function encodeMention(text: string, botUserId: string): string {
  const encoded = text.replace(/@mllead\b/g, `<@${botUserId}>`);
  return encoded.includes(`<@${botUserId}>`) ? encoded : `<@${botUserId}> ${encoded}`.trim();
}

/**
 * Drives the app the way Slack does: events, interactivity payloads and slash commands go over
 * the app's Socket Mode connection while it holds one (an unacked event is retried there as Slack
 * does), else as signed HTTP requests to its Request URL (`retryEvent` replays Slack's HTTP retry);
 * URL verification is HTTP only.
 */
export class SlackDriver {
  private readonly sentEvents = new Map<string, Record<string, unknown>>();

  constructor(
    private readonly core: SandboxCore,
    private readonly opts: {
      signingSecret: string;
      gatewayUrl: () => string | undefined;
      sandboxUrl: () => string;
      humanUserId: string;
      defaultChannel: string;
      socket: SocketModeServer;
    },
  ) {}

  /**
   * Sends one payload the way the app takes it: an envelope on its Socket Mode connection, or a
   * signed request (JSON for events, a form for interactions and slash commands). A forged or stale
   * signature is an HTTP-only test, so `signingSecret` / `timestampSec` always go over HTTP.
   */
  private send(kind: EnvelopeType, payload: Record<string, unknown>, sign: SignOptions = {}): Promise<Delivery> {
    const forged = sign.signingSecret !== undefined || sign.timestampSec !== undefined;
    if (!forged && this.opts.socket.active()) {
      return this.opts.socket.deliver(kind, payload, {
        ...(sign.retryNum !== undefined ? { retryAttempt: sign.retryNum } : {}),
        ...(sign.retryReason !== undefined ? { retryReason: sign.retryReason } : {}),
      });
    }
    switch (kind) {
      case "events_api":
        return this.post(JSON.stringify(payload), "application/json", sign);
      case "interactive":
        return this.post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), FORM, sign);
      case "slash_commands":
        return this.post(new URLSearchParams(payload as Record<string, string>).toString(), FORM, sign);
      default: {
        const never: never = kind;
        throw new Error(`unknown envelope type ${String(never)}`);
      }
    }
  }

  /** Sends a raw body to the app, signed (or deliberately mis-signed). */
  async post(body: string, contentType: string, sign: SignOptions = {}): Promise<Delivery> {
    const url = this.opts.gatewayUrl();
    if (!url) throw new Error("the sandbox has no gateway URL yet: pass gatewayUrl or call setGatewayUrl()");
    const headers: Record<string, string> = {
      "content-type": contentType,
      ...slackSignatureHeaders(sign.signingSecret ?? this.opts.signingSecret, body, sign.timestampSec),
    };
    if (sign.retryNum !== undefined) {
      headers["x-slack-retry-num"] = String(sign.retryNum);
      headers["x-slack-retry-reason"] = sign.retryReason ?? "http_timeout";
    }
    const res = await fetch(url, { method: "POST", headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body: text, json, via: "http" };
  }

  /** Delivers an Events API `event_callback` wrapping `event`. Returns the delivery and its event id. */
  async event(event: Record<string, unknown>, opts: SignOptions & { eventId?: string } = {}) {
    const eventId = opts.eventId ?? id("Ev");
    const { bot } = this.core;
    const payload = {
      token: "sandbox-verification-token",
      team_id: bot.teamId,
      api_app_id: bot.appId,
      event: { ...event, event_ts: event.event_ts ?? event.ts ?? this.core.store.clock.next() },
      type: "event_callback",
      event_id: eventId,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ team_id: bot.teamId, user_id: bot.userId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    };
    this.sentEvents.set(eventId, payload);
    const delivery = await this.send("events_api", payload, opts);
    return { ...delivery, eventId };
  }

  /** Sends an earlier event again with the same event_id, as Slack does when an ack was late or failed. */
  async retryEvent(eventId: string, retryNum = 1, retryReason = "http_timeout"): Promise<Delivery> {
    const payload = this.sentEvents.get(eventId);
    if (!payload) throw new Error(`no event ${eventId} was sent`);
    return this.send("events_api", payload, { retryNum, retryReason });
  }

  /** Answers Slack's `url_verification` handshake; returns the app's reply. */
  async urlVerification(challenge = id("challenge-")): Promise<Delivery & { challenge: string }> {
    const body = JSON.stringify({ token: "sandbox-verification-token", challenge, type: "url_verification" });
    return { ...(await this.post(body, "application/json")), challenge };
  }

  private humanMessage(text: string, o: PersonOptions, threadTs?: string): SandboxMessage {
    return this.core.store.add({
      channel: o.channel ?? this.opts.defaultChannel,
      user: o.user ?? this.opts.humanUserId,
      text,
      ...(threadTs ? { thread_ts: threadTs } : {}),
    });
  }

  /** A person writes `@mllead <text>` (in a thread when `threadTs` is given): Slack sends `app_mention` and `message`. */
  async mention(text: string, o: PersonOptions & { threadTs?: string } = {}): Promise<SentMessage> {
    const msg = this.humanMessage(encodeMention(text, this.core.bot.userId), o, o.threadTs);
    const base = {
      type: "app_mention",
      user: msg.user,
      text: msg.text,
      ts: msg.ts,
      channel: msg.channel,
      team: this.core.bot.teamId,
    };
    const delivery = await this.event(o.threadTs ? { ...base, thread_ts: o.threadTs } : base);
    await this.event({ ...base, type: "message", channel_type: "channel", ...(o.threadTs ? { thread_ts: o.threadTs } : {}) });
    return { ...delivery, ts: msg.ts, channel: msg.channel };
  }

  /** A person writes a message in a channel (not to the bot): stored, and Slack sends a `message` event. */
  async say(text: string, o: PersonOptions = {}): Promise<SentMessage> {
    const msg = this.humanMessage(text, o);
    const delivery = await this.event({
      type: "message",
      channel: msg.channel,
      channel_type: "channel",
      user: msg.user,
      text,
      ts: msg.ts,
      team: this.core.bot.teamId,
    });
    return { ...delivery, ts: msg.ts, channel: msg.channel };
  }

  /** A person (or, with `botId`, another bot) replies in a thread: Slack sends a `message` event. */
  async reply(
    threadTs: string,
    text: string,
    o: PersonOptions & { botId?: string; subtype?: string } = {},
  ): Promise<SentMessage> {
    const msg = this.humanMessage(text, o, threadTs);
    if (o.botId) msg.bot_id = o.botId;
    const delivery = await this.event({
      type: "message",
      channel: msg.channel,
      channel_type: "channel",
      user: msg.user,
      text,
      ts: msg.ts,
      thread_ts: threadTs,
      team: this.core.bot.teamId,
      ...(o.botId ? { bot_id: o.botId } : {}),
      ...(o.subtype ? { subtype: o.subtype } : {}),
    });
    return { ...delivery, ts: msg.ts, channel: msg.channel };
  }

  /** A person adds a reaction to a message: stored, then `reaction_added` is sent. */
  async react(messageTs: string, name: string, o: PersonOptions = {}): Promise<Delivery & { eventId: string }> {
    const channel = o.channel ?? this.opts.defaultChannel;
    const user = o.user ?? this.opts.humanUserId;
    const msg = this.core.store.find(channel, messageTs);
    if (!msg) throw new Error(`no message ${messageTs} in ${channel}`);
    msg.reactions ??= [];
    let r = msg.reactions.find((x) => x.name === name);
    if (!r) {
      r = { name, users: [], count: 0 };
      msg.reactions.push(r);
    }
    if (!r.users.includes(user)) r.users.push(user);
    r.count = r.users.length;
    return this.event({
      type: "reaction_added",
      user,
      reaction: name,
      item_user: msg.user ?? this.core.bot.userId,
      item: { type: "message", channel, ts: messageTs },
    });
  }

  private responseUrl(target: { channel: string; user: string; messageTs?: string; threadTs?: string }): string {
    const rid = id("R");
    this.core.responseTargets.set(rid, target);
    return `${this.opts.sandboxUrl()}/response/${rid}`;
  }

  /** A person clicks the button `actionId` on a message: a signed `block_actions` payload is sent. */
  async click(messageTs: string, actionId: string, o: PersonOptions = {}): Promise<Delivery> {
    const channel = o.channel ?? this.opts.defaultChannel;
    const user = o.user ?? this.opts.humanUserId;
    const msg = this.core.store.find(channel, messageTs);
    if (!msg) throw new Error(`no message ${messageTs} in ${channel}`);
    let found: { block_id?: string; element: Record<string, unknown> } | undefined;
    for (const b of (msg.blocks ?? []) as { type?: string; block_id?: string; elements?: Record<string, unknown>[] }[]) {
      const element = b.type === "actions" ? b.elements?.find((e) => e.action_id === actionId) : undefined;
      if (element) found = { ...(b.block_id ? { block_id: b.block_id } : {}), element };
    }
    if (!found) throw new Error(`message ${messageTs} has no button '${actionId}'`);
    const payload = {
      type: "block_actions",
      user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: this.core.bot.teamId },
      api_app_id: this.core.bot.appId,
      token: "sandbox-verification-token",
      container: {
        type: "message",
        message_ts: msg.ts,
        channel_id: channel,
        is_ephemeral: false,
        ...(msg.thread_ts ? { thread_ts: msg.thread_ts } : {}),
      },
      trigger_id: this.core.views.issueTrigger(user, channel),
      team: { id: this.core.bot.teamId, domain: "mllead-sandbox" },
      channel: { id: channel, name: this.core.store.channel(channel)?.name ?? channel },
      message: msg,
      response_url: this.responseUrl({ channel, user, messageTs: msg.ts, ...(msg.thread_ts ? { threadTs: msg.thread_ts } : {}) }),
      actions: [
        {
          action_id: actionId,
          block_id: found.block_id ?? "",
          text: found.element.text,
          value: found.element.value,
          type: found.element.type ?? "button",
          action_ts: this.core.store.clock.next(),
        },
      ],
    };
    return this.send("interactive", payload);
  }

  /**
   * A person picks a message shortcut (`callbackId`, e.g. "Ask @mllead") from a message's menu:
   * a signed `message_action` with the message and a fresh trigger id.
   */
  async shortcut(messageTs: string, callbackId: string, o: PersonOptions = {}): Promise<Delivery> {
    const channel = o.channel ?? this.opts.defaultChannel;
    const user = o.user ?? this.opts.humanUserId;
    const msg = this.core.store.find(channel, messageTs);
    if (!msg) throw new Error(`no message ${messageTs} in ${channel}`);
    const payload = {
      type: "message_action",
      callback_id: callbackId,
      trigger_id: this.core.views.issueTrigger(user, channel),
      response_url: this.responseUrl({ channel, user, messageTs, ...(msg.thread_ts ? { threadTs: msg.thread_ts } : {}) }),
      team: { id: this.core.bot.teamId, domain: "mllead-sandbox" },
      channel: { id: channel, name: this.core.store.channel(channel)?.name ?? channel },
      user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: this.core.bot.teamId },
      api_app_id: this.core.bot.appId,
      token: "sandbox-verification-token",
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
    return this.send("interactive", payload);
  }

  /** A person opens the app's Home tab: Slack sends `app_home_opened` (with the view last published, if any). */
  async openHome(o: { user?: string } = {}): Promise<Delivery & { eventId: string }> {
    const user = o.user ?? this.opts.humanUserId;
    const home = this.core.store.homes.get(user);
    return this.event({
      type: "app_home_opened",
      user,
      channel: `D${user.slice(1)}`,
      tab: "home",
      ...(home ? { view: { id: home.id, type: "home", hash: home.hash, callback_id: home.callback_id } } : {}),
    });
  }

  /**
   * A person types `/mllead <text>`. Returns what they see: the ack's text, or (when the app
   * acks empty and answers later) the first `response_url` answer within `waitMs`.
   */
  async slash(text: string, o: PersonOptions & { command?: string; waitMs?: number } = {}): Promise<SlashOutcome> {
    const channel = o.channel ?? this.opts.defaultChannel;
    const user = o.user ?? this.opts.humanUserId;
    const responseUrl = this.responseUrl({ channel, user });
    const rid = responseUrl.slice(responseUrl.lastIndexOf("/") + 1);
    const form = new URLSearchParams({
      token: "sandbox-verification-token",
      team_id: this.core.bot.teamId,
      team_domain: "mllead-sandbox",
      channel_id: channel,
      channel_name: this.core.store.channel(channel)?.name ?? channel,
      user_id: user,
      user_name: user.toLowerCase(),
      command: o.command ?? "/mllead",
      text,
      api_app_id: this.core.bot.appId,
      is_enterprise_install: "false",
      response_url: responseUrl,
      trigger_id: this.core.views.issueTrigger(user, channel),
    });
    const delivery = await this.send("slash_commands", Object.fromEntries(form));
    const ack = (delivery.json ?? (delivery.body ? { text: delivery.body } : {})) as { text?: string; blocks?: unknown[] };
    if (delivery.status === 200 && ack.text) {
      // Slack shows a slash command's ack to the person who typed it only.
      this.core.store.ephemerals.push({ channel, user, ts: this.core.store.clock.next(), text: ack.text });
      return { ...delivery, text: ack.text, blocks: ack.blocks ?? [] };
    }
    const deadline = Date.now() + (o.waitMs ?? 3000);
    while (Date.now() < deadline) {
      const later = this.core.responses.find((r) => r.id === rid);
      if (later) {
        return {
          ...delivery,
          text: typeof later.body.text === "string" ? later.body.text : "",
          blocks: Array.isArray(later.body.blocks) ? later.body.blocks : [],
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { ...delivery, text: "", blocks: [] };
  }

  /**
   * A person presses Submit on a modal the app opened: a signed `view_submission` with what they
   * typed in `state.values`. Like Slack, an empty or `clear` answer closes the modal, `errors` keeps it
   * open with the messages under the inputs, `update` replaces it. A view already closed by an earlier
   * submission may be submitted again: that is what a double-click or a network retry delivers.
   */
  async submitView(viewId: string, values: ViewValues = {}, o: { user?: string } = {}): Promise<Delivery> {
    const view = this.core.views.get(viewId);
    if (!view) throw new Error(`the app opened no view ${viewId}`);
    const user = o.user ?? view.user;
    const payload = viewSubmission(view, values, user, this.core.bot, this.core.views.issueTrigger(user, view.channel));
    const delivery = await this.send("interactive", payload);
    if (delivery.status === 200) applyViewAnswer(view, delivery.json);
    return delivery;
  }

  /** A person closes a modal with its close button; the app hears `view_closed` only if it asked to. */
  async cancelView(viewId: string): Promise<Delivery | null> {
    const view = this.core.views.get(viewId);
    if (!view) throw new Error(`the app opened no view ${viewId}`);
    view.open = false;
    if (!view.notify_on_close) return null;
    const payload = viewClosed(view, this.core.bot);
    return this.send("interactive", payload);
  }
}

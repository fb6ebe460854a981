import type { SandboxCore } from "./core.js";
import type { Delivery } from "./delivery.js";
import { SandboxError } from "./errors.js";
import { type Actor, blockActions, findButton, messageAction, slashCommandForm } from "./payloads.js";
import type { SandboxMessage } from "./store.js";
import { type AppTransport, sandboxId } from "./transport.js";
import { applyViewAnswer, type ViewValues, viewClosed, viewSubmission } from "./views.js";

/** Who acts and where, for the helpers a test or person drives the app with. */
export interface PersonOptions {
  /** Who acts; defaults to the sandbox's human user. */
  user?: string;
  /** Where; defaults to the sandbox's first channel. */
  channel?: string;
}

/** A message a person wrote, and what the app answered to its event. */
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

/** Adds the bot mention the way Slack encodes it; `@mllead` typed by a person becomes `<@BOT>`. */
export function encodeMention(text: string, botUserId: string): string {
  const encoded = text.replace(/@mllead\b/g, `<@${botUserId}>`);
  return encoded.includes(`<@${botUserId}>`) ? encoded : `<@${botUserId}> ${encoded}`.trim();
}

/**
 * What people do in the sandbox workspace, sent to the app the way Slack sends it (through the
 * AppTransport): messages, mentions, replies and reactions become events; clicks, shortcuts, modal
 * submissions and slash commands become interactivity payloads with trigger ids and response URLs.
 */
export class SlackDriver {
  constructor(
    private readonly core: SandboxCore,
    readonly transport: AppTransport,
    private readonly opts: { sandboxUrl: () => string; humanUserId: string; defaultChannel: string },
  ) {}

  private person(o: PersonOptions): { user: string; channel: string } {
    return { user: o.user ?? this.opts.humanUserId, channel: o.channel ?? this.opts.defaultChannel };
  }

  private message(channel: string, ts: string): SandboxMessage {
    const msg = this.core.store.find(channel, ts);
    if (!msg) throw new SandboxError("not_found", `no message ${ts} in ${channel}`);
    return msg;
  }

  private humanMessage(text: string, o: PersonOptions, threadTs?: string): SandboxMessage {
    const { user, channel } = this.person(o);
    return this.core.store.add({ channel, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
  }

  /** A person writes `@mllead <text>` (in a thread when `threadTs` is given): Slack sends `app_mention` and `message`. */
  async mention(text: string, o: PersonOptions & { threadTs?: string } = {}): Promise<SentMessage> {
    const msg = this.humanMessage(encodeMention(text, this.core.bot.userId), o, o.threadTs);
    const thread = o.threadTs ? { thread_ts: o.threadTs } : {};
    const base = {
      type: "app_mention",
      user: msg.user,
      text: msg.text,
      ts: msg.ts,
      channel: msg.channel,
      team: this.core.bot.teamId,
    };
    const delivery = await this.transport.event({ ...base, ...thread });
    await this.transport.event({ ...base, type: "message", channel_type: "channel", ...thread });
    return { ...delivery, ts: msg.ts, channel: msg.channel };
  }

  /** A person writes a message in a channel (not to the bot): stored, and Slack sends a `message` event. */
  async say(text: string, o: PersonOptions = {}): Promise<SentMessage> {
    const msg = this.humanMessage(text, o);
    const delivery = await this.transport.event({
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
    const delivery = await this.transport.event({
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
    const { user, channel } = this.person(o);
    const msg = this.message(channel, messageTs);
    msg.reactions ??= [];
    let r = msg.reactions.find((x) => x.name === name);
    if (!r) {
      r = { name, users: [], count: 0 };
      msg.reactions.push(r);
    }
    if (!r.users.includes(user)) r.users.push(user);
    r.count = r.users.length;
    return this.transport.event({
      type: "reaction_added",
      user,
      reaction: name,
      item_user: msg.user ?? this.core.bot.userId,
      item: { type: "message", channel, ts: messageTs },
    });
  }

  /** Who acts in an interaction: a fresh trigger id, and a response URL that answers in `threadTs` or privately. */
  private actor(o: PersonOptions, msg?: SandboxMessage): Actor {
    const { user, channel } = this.person(o);
    const rid = sandboxId("R");
    this.core.responseTargets.set(rid, {
      channel,
      user,
      ...(msg ? { messageTs: msg.ts } : {}),
      ...(msg?.thread_ts ? { threadTs: msg.thread_ts } : {}),
    });
    return {
      user,
      channel,
      channelName: this.core.store.channel(channel)?.name ?? channel,
      triggerId: this.core.views.issueTrigger(user, channel),
      responseUrl: `${this.opts.sandboxUrl()}/response/${rid}`,
    };
  }

  /** A person clicks the button `actionId` on a message: a signed `block_actions` payload is sent. */
  async click(messageTs: string, actionId: string, o: PersonOptions = {}): Promise<Delivery> {
    const msg = this.message(this.person(o).channel, messageTs);
    const button = findButton(msg, actionId);
    if (!button) throw new SandboxError("not_found", `message ${messageTs} has no button '${actionId}'`);
    return this.transport.send(
      "interactive",
      blockActions(this.core.bot, this.actor(o, msg), msg, button, this.core.store.clock.next()),
    );
  }

  /**
   * A person picks a message shortcut (`callbackId`, e.g. "Ask @mllead") from a message's menu:
   * a signed `message_action` with the message and a fresh trigger id.
   */
  async shortcut(messageTs: string, callbackId: string, o: PersonOptions = {}): Promise<Delivery> {
    const msg = this.message(this.person(o).channel, messageTs);
    return this.transport.send("interactive", messageAction(this.core.bot, this.actor(o, msg), msg, callbackId));
  }

  /** A person opens the app's Home tab: Slack sends `app_home_opened` (with the view last published, if any). */
  async openHome(o: { user?: string } = {}): Promise<Delivery & { eventId: string }> {
    const user = o.user ?? this.opts.humanUserId;
    const home = this.core.store.homes.get(user);
    return this.transport.event({
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
    const actor = this.actor(o);
    const form = slashCommandForm(this.core.bot, actor, o.command ?? "/mllead", text);
    const delivery = await this.transport.send("slash_commands", form);
    const ack = (delivery.json ?? (delivery.body ? { text: delivery.body } : {})) as { text?: string; blocks?: unknown[] };
    if (delivery.status === 200 && ack.text) {
      // Slack shows a slash command's ack to the person who typed it only.
      this.core.store.ephemerals.push({
        channel: actor.channel,
        user: actor.user,
        ts: this.core.store.clock.next(),
        text: ack.text,
      });
      return { ...delivery, text: ack.text, blocks: ack.blocks ?? [] };
    }
    const rid = actor.responseUrl.slice(actor.responseUrl.lastIndexOf("/") + 1);
    const deadline = Date.now() + (o.waitMs ?? 3000);
    while (Date.now() < deadline) {
      const later = this.core.responses.find((r) => r.id === rid);
      if (later) {
        const { text: t, blocks } = later.body;
        return { ...delivery, text: typeof t === "string" ? t : "", blocks: Array.isArray(blocks) ? blocks : [] };
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
    if (!view) throw new SandboxError("not_found", `the app opened no view ${viewId}`);
    const user = o.user ?? view.user;
    const payload = viewSubmission(view, values, user, this.core.bot, this.core.views.issueTrigger(user, view.channel));
    const delivery = await this.transport.send("interactive", payload);
    if (delivery.status === 200) applyViewAnswer(view, delivery.json);
    return delivery;
  }

  /** A person closes a modal with its close button; the app hears `view_closed` only if it asked to. */
  async cancelView(viewId: string): Promise<Delivery | null> {
    const view = this.core.views.get(viewId);
    if (!view) throw new SandboxError("not_found", `the app opened no view ${viewId}`);
    view.open = false;
    if (!view.notify_on_close) return null;
    return this.transport.send("interactive", viewClosed(view, this.core.bot));
  }
}

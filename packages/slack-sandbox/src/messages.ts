import { type Args, type Method, messageContent, required, resolveChannel, str, truthy, withoutMetadata } from "./api-args.js";
import type { SandboxCore } from "./core.js";
import { ApiError } from "./errors.js";
import type { SandboxMessage } from "./store.js";

/** `chat.postMessage`, `chat.update`, `chat.postEphemeral`: what the app writes, checked against Slack's limits. */
export function chatMethods(core: SandboxCore): Record<string, Method> {
  const { store, bot } = core;
  return {
    "chat.postMessage": (args) => {
      const channel = resolveChannel(core, args);
      const content = messageContent(args, true);
      const threadTs = str(args, "thread_ts");
      const msg = store.add({
        channel,
        user: bot.userId,
        bot_id: bot.botId,
        ...content,
        ...(threadTs ? { thread_ts: threadTs } : {}),
      });
      return { ok: true, channel, ts: msg.ts, message: withoutMetadata(msg) };
    },
    "chat.update": (args) => {
      const channel = resolveChannel(core, args);
      const ts = required(args, "ts");
      const msg = store.find(channel, ts);
      if (!msg) throw new ApiError("message_not_found");
      if (msg.bot_id !== bot.botId) throw new ApiError("cant_update_message");
      const content = messageContent(args, false);
      if (str(args, "text") !== undefined) msg.text = content.text;
      if (content.blocks !== undefined) msg.blocks = content.blocks;
      if (content.metadata !== undefined) msg.metadata = content.metadata;
      return { ok: true, channel, ts, text: msg.text, message: withoutMetadata(msg) };
    },
    "chat.postEphemeral": (args) => {
      const channel = resolveChannel(core, args);
      const user = required(args, "user");
      const content = messageContent(args, true);
      const threadTs = str(args, "thread_ts");
      const ts = store.clock.next();
      store.ephemerals.push({
        channel,
        user,
        ts,
        text: content.text,
        ...(content.blocks ? { blocks: content.blocks } : {}),
        ...(threadTs ? { thread_ts: threadTs } : {}),
      });
      return { ok: true, message_ts: ts };
    },
  };
}

/** The message a reaction call names, with the reaction's name. */
function reactionTarget(core: SandboxCore, args: Args): { msg: SandboxMessage; name: string } {
  const channel = resolveChannel(core, args);
  const name = required(args, "name");
  const msg = core.store.find(channel, required(args, "timestamp"));
  if (!msg) throw new ApiError("message_not_found");
  return { msg, name };
}

/** `reactions.add` / `reactions.remove` by the bot, with Slack's `already_reacted` and `no_reaction`. */
export function reactionMethods(core: SandboxCore): Record<string, Method> {
  const me = core.bot.userId;
  return {
    "reactions.add": (args) => {
      const { msg, name } = reactionTarget(core, args);
      msg.reactions ??= [];
      let r = msg.reactions.find((x) => x.name === name);
      if (r?.users.includes(me)) throw new ApiError("already_reacted");
      if (!r) {
        r = { name, users: [], count: 0 };
        msg.reactions.push(r);
      }
      r.users.push(me);
      r.count = r.users.length;
      return { ok: true };
    },
    "reactions.remove": (args) => {
      const { msg, name } = reactionTarget(core, args);
      const r = msg.reactions?.find((x) => x.name === name);
      if (!r?.users.includes(me)) throw new ApiError("no_reaction");
      r.users = r.users.filter((u) => u !== me);
      r.count = r.users.length;
      msg.reactions = msg.reactions?.filter((x) => x.count > 0) ?? [];
      return { ok: true };
    },
  };
}

/** `conversations.replies` (paged with Slack's `cursor`, metadata on request) and `conversations.history`. */
export function conversationMethods(core: SandboxCore): Record<string, Method> {
  const { store } = core;
  return {
    "conversations.replies": (args) => {
      const channel = resolveChannel(core, args);
      const all = store.thread(channel, required(args, "ts"));
      if (all.length === 0) throw new ApiError("thread_not_found");
      const limit = Math.min(1000, Math.max(1, Number(str(args, "limit") ?? 1000)));
      const offset = Number(str(args, "cursor") ?? 0) || 0;
      const page = all.slice(offset, offset + limit);
      const meta = truthy(args.include_all_metadata);
      const hasMore = offset + limit < all.length;
      return {
        ok: true,
        messages: page.map((m) => (meta ? m : withoutMetadata(m))),
        has_more: hasMore,
        response_metadata: { next_cursor: hasMore ? String(offset + limit) : "" },
      };
    },
    "conversations.history": (args) => {
      const channel = resolveChannel(core, args);
      return { ok: true, messages: store.history(channel).reverse().map(withoutMetadata), has_more: false };
    },
  };
}

import { type Args, jsonArg, type Method, messageContent, required, resolveChannel, str, withoutMetadata } from "./api-args.js";
import type { SandboxCore } from "./core.js";
import { ApiError } from "./errors.js";
import { SLACK_LIMITS } from "./limits.js";

const CHUNK_TYPES = new Set(["markdown_text", "task_update", "plan_update", "blocks"]);
const TASK_STATUSES = new Set(["pending", "in_progress", "complete", "error"]);

/** The markdown a call adds: `markdown_text` and the text of its `markdown_text` chunks; invalid chunks → `invalid_chunks`. */
function streamedText(args: Args): string {
  const parts: string[] = [];
  const md = str(args, "markdown_text");
  if (md !== undefined) parts.push(md);
  if (args.chunks !== undefined) {
    const chunks = jsonArg(args.chunks);
    if (!Array.isArray(chunks)) throw new ApiError("invalid_chunks");
    for (const c of chunks as Record<string, unknown>[]) {
      if (!c || !CHUNK_TYPES.has(String(c.type))) throw new ApiError("invalid_chunks");
      if (c.type === "markdown_text") {
        if (typeof c.text !== "string") throw new ApiError("invalid_chunks");
        parts.push(c.text);
      }
      if (
        c.type === "task_update" &&
        (typeof c.id !== "string" || typeof c.title !== "string" || !TASK_STATUSES.has(String(c.status)))
      ) {
        throw new ApiError("invalid_chunks");
      }
      if (c.type === "plan_update" && typeof c.title !== "string") throw new ApiError("invalid_chunks");
    }
  }
  const text = parts.join("");
  if (text.length > SLACK_LIMITS.maxMarkdownChars) throw new ApiError("msg_too_long");
  return text;
}

/**
 * `chat.startStream`, `chat.appendStream`, `chat.stopStream`: a reply that grows while it is written.
 * As in Slack, a stream in a channel (not a DM) must name the person it answers
 * (`recipient_user_id`, `recipient_team_id`); appending to or stopping a message that is not
 * streaming is `message_not_in_streaming_state`; `stopStream` may add blocks and metadata.
 */
export function streamMethods(core: SandboxCore): Record<string, Method> {
  const { store, bot } = core;
  const streaming = (args: Args) => {
    const channel = resolveChannel(core, args);
    const ts = required(args, "ts");
    const msg = store.find(channel, ts);
    if (!msg) throw new ApiError("message_not_found");
    const state = store.streams.get(`${channel}/${ts}`);
    if (!state) throw new ApiError("message_not_in_streaming_state");
    return { channel, ts, msg, state };
  };
  const show = (markdown: string) => [{ type: "markdown", text: markdown }];
  return {
    "chat.startStream": (args) => {
      const channel = resolveChannel(core, args);
      const threadTs = required(args, "thread_ts");
      if (!channel.startsWith("D")) {
        if (!str(args, "recipient_user_id")) throw new ApiError("missing_recipient_user_id");
        if (!str(args, "recipient_team_id")) throw new ApiError("missing_recipient_team_id");
      }
      const text = streamedText(args);
      const msg = store.add({ channel, user: bot.userId, bot_id: bot.botId, thread_ts: threadTs, text, blocks: show(text) });
      store.streams.set(`${channel}/${msg.ts}`, { markdown: text });
      return { ok: true, channel, ts: msg.ts };
    },
    "chat.appendStream": (args) => {
      const { channel, ts, msg, state } = streaming(args);
      const text = streamedText(args);
      if (!text) throw new ApiError("no_text");
      if (state.markdown.length + text.length > SLACK_LIMITS.maxTextChars) throw new ApiError("msg_too_long");
      state.markdown += text;
      msg.text = state.markdown;
      msg.blocks = show(state.markdown);
      return { ok: true, channel, ts };
    },
    "chat.stopStream": (args) => {
      const { channel, ts, msg, state } = streaming(args);
      const text = streamedText(args);
      if (state.markdown.length + text.length > SLACK_LIMITS.maxTextChars) throw new ApiError("msg_too_long");
      // Blocks and metadata are checked like a posted message's; no text is needed at the end of a stream.
      const extra = messageContent({ blocks: args.blocks, metadata: args.metadata }, false);
      state.markdown += text;
      store.streams.delete(`${channel}/${ts}`);
      msg.text = state.markdown;
      msg.blocks = [...show(state.markdown), ...(extra.blocks ?? [])];
      if (extra.metadata) msg.metadata = extra.metadata;
      return { ok: true, channel, ts, message: withoutMetadata(msg) };
    },
  };
}

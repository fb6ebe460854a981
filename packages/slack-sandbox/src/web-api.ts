import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  ApiError,
  type Args,
  jsonArg,
  type Method,
  messageContent,
  type Result,
  required,
  resolveChannel,
  str,
  truthy,
  withoutMetadata,
} from "./api-args.js";
import { assistantMethods } from "./assistant.js";
import type { SandboxCore } from "./core.js";
import { fileMethods } from "./files.js";
import { homeMethods } from "./home.js";
import { streamMethods } from "./streams.js";
import { slackView, ViewError } from "./views.js";

/** The Web API methods the sandbox implements, by name. */
function methods(core: SandboxCore): Record<string, Method> {
  const { store, bot } = core;
  return {
    "api.test": (args) => ({ ok: true, args }),
    "auth.test": () => ({
      ok: true,
      url: "https://mllead-sandbox.slack.local/",
      team: bot.teamName,
      user: "mllead",
      team_id: bot.teamId,
      user_id: bot.userId,
      bot_id: bot.botId,
      is_enterprise_install: false,
    }),
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
      core.onBotMessage(msg);
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
    "reactions.add": (args) => {
      const channel = resolveChannel(core, args);
      const name = required(args, "name");
      const msg = store.find(channel, required(args, "timestamp"));
      if (!msg) throw new ApiError("message_not_found");
      msg.reactions ??= [];
      let r = msg.reactions.find((x) => x.name === name);
      if (r?.users.includes(bot.userId)) throw new ApiError("already_reacted");
      if (!r) {
        r = { name, users: [], count: 0 };
        msg.reactions.push(r);
      }
      r.users.push(bot.userId);
      r.count = r.users.length;
      return { ok: true };
    },
    "reactions.remove": (args) => {
      const channel = resolveChannel(core, args);
      const name = required(args, "name");
      const msg = store.find(channel, required(args, "timestamp"));
      if (!msg) throw new ApiError("message_not_found");
      const r = msg.reactions?.find((x) => x.name === name);
      if (!r?.users.includes(bot.userId)) throw new ApiError("no_reaction");
      r.users = r.users.filter((u) => u !== bot.userId);
      r.count = r.users.length;
      msg.reactions = msg.reactions?.filter((x) => x.count > 0) ?? [];
      return { ok: true };
    },
    "conversations.replies": (args) => {
      const channel = resolveChannel(core, args);
      const ts = required(args, "ts");
      const all = store.thread(channel, ts);
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
    "views.open": (args) => {
      try {
        const view = core.views.open(str(args, "trigger_id"), args.view === undefined ? undefined : jsonArg(args.view));
        return { ok: true, view: slackView(view, bot) };
      } catch (err) {
        if (!(err instanceof ViewError)) throw err;
        throw new ApiError(err.error, err.messages.length ? { response_metadata: { messages: err.messages } } : {});
      }
    },
    // Socket Mode: a single-use WebSocket URL; from the app's first connection on, Slack's payloads go over it.
    "apps.connections.open": () => ({ ok: true, url: core.socket.open(core.baseUrl()) }),
  };
}

function tokenOf(req: FastifyRequest, args: Args): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === "string" && auth.startsWith("Bearer ")) return auth.slice("Bearer ".length).trim();
  return str(args, "token");
}

/**
 * Registers `POST /api/<method>`: Slack's Web API with its auth errors (`not_authed`, `invalid_auth`,
 * `not_allowed_token_type` for the wrong kind of token), error names, limits and (when configured)
 * HTTP 429 rate limiting. Every call is recorded.
 */
export function registerWebApi(app: FastifyInstance, core: SandboxCore): void {
  const table: Record<string, Method> = {
    ...methods(core),
    ...streamMethods(core),
    ...fileMethods(core),
    ...assistantMethods(core),
    ...homeMethods(core),
  };
  app.post("/api/:method", async (req: FastifyRequest<{ Params: { method: string } }>, reply: FastifyReply) => {
    const method = req.params.method;
    const body = req.body;
    const args: Args = body && typeof body === "object" ? { ...(body as Args) } : {};
    const query = req.query && typeof req.query === "object" ? (req.query as Args) : {};
    for (const [k, v] of Object.entries(query)) if (!(k in args)) args[k] = v;
    const token = tokenOf(req, args);
    delete args.token;
    const record = (status: number, result: Result) => {
      core.calls.push({
        method,
        args,
        at: new Date().toISOString(),
        status,
        ok: result.ok,
        ...(result.error ? { error: result.error } : {}),
      });
      return reply.code(status).send(result);
    };

    const impl = table[method];
    if (!impl) return record(404, { ok: false, error: "unknown_method", req_method: method });
    if (!token) return record(200, { ok: false, error: "not_authed" });
    // An app-level token opens Socket Mode connections and does nothing else; a bot token cannot open one.
    const wantsAppToken = method === "apps.connections.open";
    if (token.startsWith("xapp-") !== wantsAppToken) return record(200, { ok: false, error: "not_allowed_token_type" });
    if (token !== (wantsAppToken ? core.appToken : core.botToken)) return record(200, { ok: false, error: "invalid_auth" });
    // chat.postMessage is limited per channel: the raw `channel` argument is the key.
    const retryAfter = core.rates.take(method, str(args, "channel") ?? str(args, "channel_id"));
    if (retryAfter !== null) {
      reply.header("retry-after", String(retryAfter));
      return record(429, { ok: false, error: "ratelimited" });
    }
    const fault = core.fault?.(method, args);
    if (fault) return record(200, { ok: false, error: fault });
    try {
      return record(200, await impl(args));
    } catch (err) {
      if (err instanceof ApiError) return record(200, { ok: false, error: err.error, ...err.extra });
      throw err;
    }
  });
}

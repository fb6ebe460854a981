import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { SandboxCore } from "./core.js";
import { blockProblems, SLACK_LIMITS } from "./limits.js";
import type { SandboxMessage } from "./store.js";
import { slackView, ViewError } from "./views.js";

type Args = Record<string, unknown>;
type Result = Record<string, unknown> & { ok: boolean; error?: string };

/** A Slack error answer; `extra` carries Slack's detail fields (e.g. `errors` for `invalid_blocks`). */
class ApiError extends Error {
  readonly code = "slack_api_error";
  override readonly name = "ApiError";
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

/** Form fields arrive as strings: WebClient JSON-encodes arrays and objects (blocks, metadata). */
function jsonArg(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    throw new ApiError("invalid_arguments", { detail: "a JSON field could not be parsed" });
  }
}

function str(args: Args, name: string): string | undefined {
  const v = args[name];
  return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
}

function required(args: Args, name: string): string {
  const v = str(args, name);
  if (v === undefined) throw new ApiError("invalid_arguments", { detail: `missing required field: ${name}` });
  return v;
}

function truthy(v: unknown): boolean {
  return v === true || v === "true" || v === "1" || v === 1;
}

function resolveChannel(core: SandboxCore, args: Args): string {
  const raw = str(args, "channel");
  if (!raw) throw new ApiError("channel_not_found");
  const byId = core.store.channel(raw);
  if (byId) return byId.id;
  const name = raw.replace(/^#/, "");
  const byName = core.store.listChannels().find((c) => c.name === name);
  if (!byName) throw new ApiError("channel_not_found");
  return byName.id;
}

/** Validates what a message may contain: text size, Block Kit limits and metadata shape. */
function messageContent(args: Args, requireContent: boolean): Pick<SandboxMessage, "text" | "blocks" | "metadata"> {
  const text = str(args, "text") ?? "";
  const blocks = args.blocks === undefined ? undefined : jsonArg(args.blocks);
  if (requireContent && !text && (!Array.isArray(blocks) || blocks.length === 0)) throw new ApiError("no_text");
  if (text.length > SLACK_LIMITS.maxTextChars) throw new ApiError("msg_too_long");
  if (blocks !== undefined) {
    const problems = blockProblems(blocks);
    if (problems.length > 0) throw new ApiError("invalid_blocks", { errors: problems });
  }
  const out: Pick<SandboxMessage, "text" | "blocks" | "metadata"> = { text };
  if (Array.isArray(blocks)) out.blocks = blocks;
  if (args.metadata !== undefined) {
    const md = jsonArg(args.metadata) as { event_type?: unknown; event_payload?: unknown } | null;
    if (
      !md ||
      typeof md.event_type !== "string" ||
      !/^[a-zA-Z0-9_]+$/.test(md.event_type) ||
      typeof md.event_payload !== "object" ||
      md.event_payload === null
    ) {
      throw new ApiError("invalid_metadata_format");
    }
    out.metadata = { event_type: md.event_type, event_payload: md.event_payload as Record<string, unknown> };
  }
  return out;
}

function withoutMetadata(m: SandboxMessage): SandboxMessage {
  const { metadata: _dropped, ...rest } = m;
  return rest;
}

/** The Web API methods the sandbox implements, by name. */
function methods(core: SandboxCore): Record<string, (args: Args) => Result> {
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
    "apps.connections.open": () => {
      // Socket Mode needs a WebSocket server; the sandbox drives the app over HTTP and knows no app token.
      throw new ApiError("invalid_auth", {
        detail: "the sandbox delivers events over HTTP; unset SLACK_APP_TOKEN to use it",
      });
    },
  };
}

function tokenOf(req: FastifyRequest, args: Args): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === "string" && auth.startsWith("Bearer ")) return auth.slice("Bearer ".length).trim();
  return str(args, "token");
}

/**
 * Registers `POST /api/<method>`: Slack's Web API with its auth errors, error names,
 * limits and (when configured) HTTP 429 rate limiting. Every call is recorded.
 */
export function registerWebApi(app: FastifyInstance, core: SandboxCore): void {
  const table = methods(core);
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
    if (token !== core.botToken && !(method === "apps.connections.open" && token.startsWith("xapp-"))) {
      return record(200, { ok: false, error: "invalid_auth" });
    }
    const retryAfter = core.rates.take(method);
    if (retryAfter !== null) {
      reply.header("retry-after", String(retryAfter));
      return record(429, { ok: false, error: "ratelimited" });
    }
    try {
      return record(200, impl(args));
    } catch (err) {
      if (err instanceof ApiError) return record(200, { ok: false, error: err.error, ...err.extra });
      throw err;
    }
  });
}

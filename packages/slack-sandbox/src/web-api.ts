import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type Args, jsonArg, type Method, type Result, str } from "./api-args.js";
import { assistantMethods } from "./assistant.js";
import type { SandboxCore } from "./core.js";
import { ApiError, ViewError } from "./errors.js";
import { fileMethods } from "./files.js";
import { homeMethods } from "./home.js";
import { chatMethods, conversationMethods, reactionMethods } from "./messages.js";
import { streamMethods } from "./streams.js";
import { slackView } from "./views.js";

/** `api.test`, `auth.test`, `views.open` and Socket Mode's `apps.connections.open`. */
function appMethods(core: SandboxCore): Record<string, Method> {
  const { bot } = core;
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
    ...appMethods(core),
    ...chatMethods(core),
    ...reactionMethods(core),
    ...conversationMethods(core),
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

import Fastify, { type FastifyInstance } from "fastify";
import type { BotIdentity, SandboxCore } from "./core.js";
import { SlackDriver } from "./driver.js";
import { registerFileRoutes } from "./files.js";
import { RateLimiter } from "./rate-limit.js";
import { registerResponseUrls } from "./responses.js";
import type { SlackSandbox, SlackSandboxOptions } from "./sandbox-types.js";
import { SocketModeServer } from "./socket-mode.js";
import { WorkspaceStore } from "./store.js";
import { AppTransport } from "./transport.js";
import { registerUi } from "./ui.js";
import { ViewRegistry } from "./views.js";
import { registerWebApi } from "./web-api.js";

/** The app's Request URL: a bare origin gets `/slack/events`. */
function eventsUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname === "/" || u.pathname === "") u.pathname = "/slack/events";
  return u.toString();
}

/** The workspace's state, before the sandbox listens (`baseUrl` answers once it does). */
function createCore(opts: SlackSandboxOptions, baseUrl: () => string): SandboxCore {
  const bot: BotIdentity = {
    userId: opts.botUserId ?? "U0MLLEAD",
    botId: "B0MLLEAD",
    appId: "A0MLLEAD",
    teamId: "T0SANDBOX",
    teamName: "mllead sandbox",
  };
  return {
    store: new WorkspaceStore(opts.channels ?? [{ id: "C0GENERAL", name: "general" }]),
    bot,
    botToken: opts.botToken,
    appToken: opts.appToken ?? "xapp-1-A0MLLEAD-1-sandbox",
    socket: new SocketModeServer({ ...opts.socketMode, appId: bot.appId }),
    rates: new RateLimiter(opts.rateLimits),
    calls: [],
    responseTargets: new Map(),
    responses: [],
    views: new ViewRegistry(opts.triggerTtlMs),
    baseUrl,
    maxUploadBytes: opts.maxUploadBytes ?? 50 * 1024 * 1024,
    allowThreadStatus: opts.allowThreadStatus ?? true,
    fault: null,
  };
}

/** The HTTP side: Slack's Web API, upload and response URLs, the browser UI and Socket Mode's WebSocket. */
function buildServer(core: SandboxCore, driver: SlackDriver, ui: { humanUserId: string; gatewayUrl: () => string | undefined }) {
  const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 });
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  registerWebApi(app, core);
  registerFileRoutes(app, core);
  registerResponseUrls(app, core);
  registerUi(app, core, driver, ui);
  core.socket.attach(app.server);
  return app;
}

/** What the sandbox shows of the workspace's state: calls, messages, files, views, Socket Mode. */
function readers(core: SandboxCore, humanUserId: string, defaultChannel: string) {
  const { store, socket } = core;
  return {
    socketMode: {
      connections: () => socket.connections(),
      envelopes: () => socket.envelopes(),
      refresh: (o?: { warningMs?: number }) => socket.refresh(o),
    },
    threadStatus: (channel: string, ts: string) => store.threadStatus.get(`${channel}/${ts}`),
    files: () => [...store.files.values()],
    home: (user?: string) => store.homes.get(user ?? humanUserId),
    calls: (method?: string) => (method ? core.calls.filter((c) => c.method === method) : [...core.calls]),
    thread: (channel: string, ts: string) => store.thread(channel, ts),
    message: (channel: string, ts: string) => store.find(channel, ts),
    history: (channel?: string) => store.history(channel ?? defaultChannel),
    ephemerals: (channel?: string, user?: string) => store.ephemeralsFor(channel ?? defaultChannel, user),
    responses: () => [...core.responses],
    openViews: (user?: string) => core.views.list(user),
  } satisfies Partial<SlackSandbox>;
}

/** What a test or person does: everything a person does in Slack, and the raw requests Slack sends. */
function actions(driver: SlackDriver) {
  const t = driver.transport;
  return {
    openHome: (o) => driver.openHome(o),
    shortcut: (ts, callbackId, o) => driver.shortcut(ts, callbackId, o),
    submitView: (viewId, values, o) => driver.submitView(viewId, values, o),
    cancelView: (viewId) => driver.cancelView(viewId),
    mention: (text, o) => driver.mention(text, o),
    say: (text, o) => driver.say(text, o),
    reply: (threadTs, text, o) => driver.reply(threadTs, text, o),
    click: (ts, actionId, o) => driver.click(ts, actionId, o),
    react: (ts, name, o) => driver.react(ts, name, o),
    slash: (text, o) => driver.slash(text, o),
    urlVerification: (challenge) => t.urlVerification(challenge),
    event: (event, o) => t.event(event, o),
    retryEvent: (eventId, n, reason) => t.retryEvent(eventId, n, reason),
    postSigned: (body, contentType, sign) => t.post(body, contentType, sign),
  } satisfies Partial<SlackSandbox>;
}

/** Where the sandbox listens, as a base URL. */
function addressOf(app: FastifyInstance, opts: SlackSandboxOptions): string {
  const addr = app.server.address();
  const port = addr && typeof addr === "object" ? addr.port : (opts.port ?? 0);
  return `http://${opts.host ?? "127.0.0.1"}:${port}`;
}

/** Starts a local stand-in for Slack that the unmodified Slack SDKs can talk to through `slackApiUrl`. */
export async function startSlackSandbox(opts: SlackSandboxOptions): Promise<SlackSandbox> {
  const humanUserId = opts.humanUserId ?? "U0HUMAN";
  const defaultChannel = opts.channels?.[0]?.id ?? "C0GENERAL";
  let gatewayUrl = opts.gatewayUrl ? eventsUrl(opts.gatewayUrl) : undefined;
  let baseUrl = "";
  const core = createCore(opts, () => baseUrl);
  const transport = new AppTransport(core, { signingSecret: opts.signingSecret, gatewayUrl: () => gatewayUrl });
  const driver = new SlackDriver(core, transport, { sandboxUrl: () => baseUrl, humanUserId, defaultChannel });
  const app = buildServer(core, driver, { humanUserId, gatewayUrl: () => gatewayUrl });
  await app.listen({ port: opts.port ?? 0, host: opts.host ?? "127.0.0.1" });
  baseUrl = addressOf(app, opts);

  const close = async () => {
    await core.socket.close();
    await app.close();
  };
  return {
    url: baseUrl,
    apiUrl: `${baseUrl}/api/`,
    bot: core.bot,
    appToken: core.appToken,
    humanUserId,
    defaultChannel,
    setGatewayUrl: (url) => {
      gatewayUrl = eventsUrl(url);
    },
    setRateLimit: (method, limit) => core.rates.set(method, limit),
    injectFault: (fault) => {
      core.fault = fault;
    },
    setThreadStatusAllowed: (allowed) => {
      core.allowThreadStatus = allowed;
    },
    setTriggerTtl: (ms) => {
      core.views.ttlMs = ms;
    },
    ...readers(core, humanUserId, defaultChannel),
    ...actions(driver),
    close,
    [Symbol.asyncDispose]: close,
  };
}

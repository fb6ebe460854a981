import Fastify from "fastify";
import type { ApiCall, BotIdentity, ResponsePost, SandboxCore } from "./core.js";
import {
  type Delivery,
  type PersonOptions,
  type SentMessage,
  type SignOptions,
  SlackDriver,
  type SlashOutcome,
} from "./driver.js";
import { registerFileRoutes } from "./files.js";
import { type RateLimit, RateLimiter } from "./rate-limit.js";
import { registerResponseUrls } from "./responses.js";
import { type EnvelopeType, type SocketEnvelope, type SocketModeOptions, SocketModeServer } from "./socket-mode.js";
import {
  type SandboxChannel,
  type SandboxEphemeral,
  type SandboxFile,
  type SandboxHomeView,
  type SandboxMessage,
  WorkspaceStore,
} from "./store.js";
import { registerUi } from "./ui.js";
import { type SandboxView, ViewRegistry, type ViewValues } from "./views.js";
import { registerWebApi } from "./web-api.js";

export { encodeMention } from "./driver.js";
export { homeViewProblems } from "./home.js";
export { blockProblems, SLACK_LIMITS } from "./limits.js";
export { type RateLimit, SLACK_LIKE_LIMITS } from "./rate-limit.js";
export { signSlackRequest, slackSignatureHeaders } from "./signing.js";
export { viewProblems } from "./views.js";
export type {
  ApiCall,
  BotIdentity,
  Delivery,
  EnvelopeType,
  PersonOptions,
  ResponsePost,
  SandboxChannel,
  SandboxEphemeral,
  SandboxFile,
  SandboxHomeView,
  SandboxMessage,
  SandboxView,
  SentMessage,
  SignOptions,
  SlashOutcome,
  SocketEnvelope,
  SocketModeOptions,
  ViewValues,
};

export interface SlackSandboxOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Host to listen on; default 127.0.0.1. */
  host?: string;
  /** The bot token the app must present (`Authorization: Bearer …`). */
  botToken: string;
  /** The secret requests to the app are signed with. */
  signingSecret: string;
  /** The app-level token (xapp-…) `apps.connections.open` takes. Default `xapp-1-A0MLLEAD-1-sandbox`. */
  appToken?: string;
  /** Socket Mode timing: ack timeout, retry waits, pings, reconnect grace (see SocketModeOptions; Slack's by default). */
  socketMode?: Omit<SocketModeOptions, "appId">;
  /**
   * The app's Request URL (e.g. `http://127.0.0.1:3000/slack/events`). A bare origin gets
   * `/slack/events` appended. May be set later with `setGatewayUrl`. Unused while the app is
   * connected over Socket Mode: then everything goes over its WebSocket, as with Slack.
   */
  gatewayUrl?: string;
  /** The bot's user id (what `auth.test` answers). Default `U0MLLEAD`. */
  botUserId?: string;
  /** The person acting in helpers and the UI. Default `U0HUMAN`. */
  humanUserId?: string;
  /** Channels of the workspace; default one, `C0GENERAL` (#general). */
  channels?: SandboxChannel[];
  /**
   * Limits by Web API method: calls per minute (e.g. `{ "chat.update": 50 }`) or a token bucket per
   * channel or workspace (see `RateLimit`; `SLACK_LIKE_LIMITS` is Slack's set); off by default.
   */
  rateLimits?: Readonly<Record<string, RateLimit>>;
  /** Upload ceiling in bytes (`file_upload_size_restricted` beyond). Default 50 MiB. */
  maxUploadBytes?: number;
  /** Whether `assistant.threads.setStatus` is allowed (else `missing_scope`). Default true. */
  allowThreadStatus?: boolean;
  /** Send the app a `message` event for each of its own posts, as Slack does. Default false. */
  echoBotMessages?: boolean;
  /** How long (ms) a trigger id may open a view after the click or command that issued it. Default 3000, as Slack. */
  triggerTtlMs?: number;
}

/** A running sandbox: the Web API the app calls, the helpers a test or person drives the app with, and the recorded state. */
export interface SlackSandbox extends AsyncDisposable {
  /** Base URL, where the browser UI is. */
  url: string;
  /** What the app's `SLACK_API_URL` should be (ends with `/api/`). */
  apiUrl: string;
  bot: BotIdentity;
  /** The app-level token the app's `SLACK_APP_TOKEN` should be, for Socket Mode. */
  appToken: string;
  humanUserId: string;
  defaultChannel: string;
  setGatewayUrl(url: string): void;
  /** Socket Mode as the sandbox sees it: the app's connections, the envelopes sent, and Slack's connection refresh. */
  socketMode: {
    /** Ids of the open connections, oldest first. */
    connections(): string[];
    /** Every envelope sent, retries included, with its ack. */
    envelopes(): SocketEnvelope[];
    /** Asks every connection to reconnect: `disconnect` `warning` (when `warningMs` > 0), then `refresh_requested`. */
    refresh(o?: { warningMs?: number }): Promise<void>;
  };
  /** Limits a Web API method (calls per minute, or a token bucket; 429 + Retry-After beyond); null lifts it. */
  setRateLimit(method: string, limit: RateLimit | null): void;
  /**
   * Makes Slack refuse calls: `fault(method, args)` returns the error name to answer (e.g.
   * `invalid_blocks` for messages with a plan block) or null to handle the call; null lifts it.
   */
  injectFault(fault: ((method: string, args: Record<string, unknown>) => string | null) | null): void;
  /** Allows or refuses `assistant.threads.setStatus` from now on. */
  setThreadStatusAllowed(allowed: boolean): void;
  /** The app's status line under a thread ("is thinking…"), if one is shown. */
  threadStatus(channel: string, threadTs: string): string | undefined;
  /** Files the app uploaded and shared, with their bytes. */
  files(): (SandboxFile & { bytes: Buffer })[];
  /** The Home tab the app published for a person (default: the sandbox's human). */
  home(user?: string): SandboxHomeView | undefined;
  /** A person opens the app's Home tab: `app_home_opened`. */
  openHome(o?: { user?: string }): Promise<Delivery & { eventId: string }>;
  /** A person runs a message shortcut (`callbackId`) on a message: `message_action`. */
  shortcut(messageTs: string, callbackId: string, o?: PersonOptions): Promise<Delivery>;
  /** How long (ms) a trigger id stays good for `views.open`; 0 makes every trigger expired (a slow app). */
  setTriggerTtl(ms: number): void;
  /** Every Web API call so far, or those of one method. */
  calls(method?: string): ApiCall[];
  /** A thread: root then replies. Metadata included. */
  thread(channel: string, threadTs: string): SandboxMessage[];
  message(channel: string, ts: string): SandboxMessage | undefined;
  /** Top-level messages of a channel (default: the first channel). */
  history(channel?: string): SandboxMessage[];
  ephemerals(channel?: string, user?: string): SandboxEphemeral[];
  /** Modals the app opened that are still open (for one person when `user` is given). */
  openViews(user?: string): SandboxView[];
  /**
   * Presses Submit on a modal with `values` typed into its inputs (by `action_id`): a signed
   * `view_submission`. Returns the app's answer, e.g. `{ response_action: "errors", … }` in `json`.
   */
  submitView(viewId: string, values?: ViewValues, o?: { user?: string }): Promise<Delivery>;
  /** Closes a modal with its close button; `view_closed` reaches the app only if it asked for it. */
  cancelView(viewId: string): Promise<Delivery | null>;
  /** Bodies the app posted to `response_url`s. */
  responses(): ResponsePost[];
  mention(text: string, o?: PersonOptions & { threadTs?: string }): Promise<SentMessage>;
  /** A person writes a message in a channel, not mentioning the bot. */
  say(text: string, o?: PersonOptions): Promise<SentMessage>;
  reply(threadTs: string, text: string, o?: PersonOptions & { botId?: string; subtype?: string }): Promise<SentMessage>;
  click(messageTs: string, actionId: string, o?: PersonOptions): Promise<Delivery>;
  react(messageTs: string, name: string, o?: PersonOptions): Promise<Delivery & { eventId: string }>;
  slash(text: string, o?: PersonOptions & { command?: string; waitMs?: number }): Promise<SlashOutcome>;
  urlVerification(challenge?: string): Promise<Delivery & { challenge: string }>;
  /** Any Events API event, wrapped in an `event_callback`. */
  event(event: Record<string, unknown>, o?: SignOptions & { eventId?: string }): Promise<Delivery & { eventId: string }>;
  retryEvent(eventId: string, retryNum?: number, retryReason?: string): Promise<Delivery>;
  /** A raw request to the app, signed (or mis-signed with `signingSecret` / `timestampSec`). */
  postSigned(body: string, contentType: string, sign?: SignOptions): Promise<Delivery>;
  close(): Promise<void>;
}

function eventsUrl(url: string): string {
  const u = new URL(url);
  if (u.pathname === "/" || u.pathname === "") u.pathname = "/slack/events";
  return u.toString();
}

/** Starts a local stand-in for Slack that the unmodified Slack SDKs can talk to through `slackApiUrl`. */
export async function startSlackSandbox(opts: SlackSandboxOptions): Promise<SlackSandbox> {
  const bot: BotIdentity = {
    userId: opts.botUserId ?? "U0MLLEAD",
    botId: "B0MLLEAD",
    appId: "A0MLLEAD",
    teamId: "T0SANDBOX",
    teamName: "mllead sandbox",
  };
  const humanUserId = opts.humanUserId ?? "U0HUMAN";
  const channels = opts.channels ?? [{ id: "C0GENERAL", name: "general" }];
  const defaultChannel = channels[0]?.id ?? "C0GENERAL";
  let gatewayUrl = opts.gatewayUrl ? eventsUrl(opts.gatewayUrl) : undefined;
  let baseUrl = "";
  const pendingEchoes = new Set<Promise<unknown>>();
  const socket = new SocketModeServer({ ...opts.socketMode, appId: bot.appId });

  const core: SandboxCore = {
    store: new WorkspaceStore(channels),
    bot,
    botToken: opts.botToken,
    appToken: opts.appToken ?? "xapp-1-A0MLLEAD-1-sandbox",
    socket,
    rates: new RateLimiter(opts.rateLimits),
    calls: [],
    responseTargets: new Map(),
    responses: [],
    views: new ViewRegistry(opts.triggerTtlMs),
    baseUrl: () => baseUrl,
    maxUploadBytes: opts.maxUploadBytes ?? 50 * 1024 * 1024,
    allowThreadStatus: opts.allowThreadStatus ?? true,
    fault: null,
    onBotMessage: (m) => {
      if (!opts.echoBotMessages || (!gatewayUrl && !socket.active())) return;
      const p = driver
        .event({
          type: "message",
          channel: m.channel,
          channel_type: "channel",
          user: m.user,
          bot_id: m.bot_id,
          text: m.text,
          ts: m.ts,
          ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
        })
        .catch(() => undefined)
        .finally(() => pendingEchoes.delete(p));
      pendingEchoes.add(p);
    },
  };
  const driver = new SlackDriver(core, {
    signingSecret: opts.signingSecret,
    gatewayUrl: () => gatewayUrl,
    sandboxUrl: () => baseUrl,
    humanUserId,
    defaultChannel,
    socket,
  });

  const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 });
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  registerWebApi(app, core);
  registerFileRoutes(app, core);
  registerResponseUrls(app, core);
  registerUi(app, core, driver, { humanUserId, gatewayUrl: () => gatewayUrl });

  socket.attach(app.server);
  await app.listen({ port: opts.port ?? 0, host: opts.host ?? "127.0.0.1" });
  const addr = app.server.address();
  const port = addr && typeof addr === "object" ? addr.port : (opts.port ?? 0);
  baseUrl = `http://${opts.host ?? "127.0.0.1"}:${port}`;

  const close = async () => {
    await Promise.allSettled([...pendingEchoes]);
    await socket.close();
    await app.close();
  };
  return {
    url: baseUrl,
    apiUrl: `${baseUrl}/api/`,
    bot,
    appToken: core.appToken,
    humanUserId,
    defaultChannel,
    socketMode: {
      connections: () => socket.connections(),
      envelopes: () => socket.envelopes(),
      refresh: (o) => socket.refresh(o),
    },
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
    threadStatus: (channel, ts) => core.store.threadStatus.get(`${channel}/${ts}`),
    files: () => [...core.store.files.values()],
    home: (user) => core.store.homes.get(user ?? humanUserId),
    openHome: (o) => driver.openHome(o),
    shortcut: (ts, callbackId, o) => driver.shortcut(ts, callbackId, o),
    setTriggerTtl: (ms) => {
      core.views.ttlMs = ms;
    },
    calls: (method) => (method ? core.calls.filter((c) => c.method === method) : [...core.calls]),
    thread: (channel, ts) => core.store.thread(channel, ts),
    message: (channel, ts) => core.store.find(channel, ts),
    history: (channel) => core.store.history(channel ?? defaultChannel),
    ephemerals: (channel, user) => core.store.ephemeralsFor(channel ?? defaultChannel, user),
    responses: () => [...core.responses],
    openViews: (user) => core.views.list(user),
    submitView: (viewId, values, o) => driver.submitView(viewId, values, o),
    cancelView: (viewId) => driver.cancelView(viewId),
    mention: (text, o) => driver.mention(text, o),
    say: (text, o) => driver.say(text, o),
    reply: (threadTs, text, o) => driver.reply(threadTs, text, o),
    click: (ts, actionId, o) => driver.click(ts, actionId, o),
    react: (ts, name, o) => driver.react(ts, name, o),
    slash: (text, o) => driver.slash(text, o),
    urlVerification: (challenge) => driver.urlVerification(challenge),
    event: (event, o) => driver.event(event, o),
    retryEvent: (eventId, n, reason) => driver.retryEvent(eventId, n, reason),
    postSigned: (body, contentType, sign) => driver.post(body, contentType, sign),
    close,
    [Symbol.asyncDispose]: close,
  };
}

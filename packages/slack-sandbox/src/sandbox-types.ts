import type { ApiCall, BotIdentity, ResponsePost } from "./core.js";
import type { Delivery, SocketEnvelope } from "./delivery.js";
import type { PersonOptions, SentMessage, SlashOutcome } from "./driver.js";
import type { RateLimit } from "./rate-limit.js";
import type { SocketModeOptions } from "./socket-connection.js";
import type { SandboxChannel, SandboxEphemeral, SandboxFile, SandboxHomeView, SandboxMessage } from "./store.js";
import type { SignOptions } from "./transport.js";
import type { SandboxView, ViewValues } from "./views.js";

/** How to start a sandbox: the app's tokens and secret, its Request URL, the workspace, Slack's limits. */
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

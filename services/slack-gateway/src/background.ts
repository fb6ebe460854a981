import type { Bus } from "@mllead/bus";
import { App, type Receiver } from "@slack/bolt";
import type { Logger } from "pino";
import { boltLogger } from "./bolt-logger.js";
import { type GatewayConfig, slackApiBase } from "./config.js";
import { registerInbound } from "./inbound.js";
import { consumeInbox } from "./inbox.js";
import { startOutbound } from "./outbound.js";
import { Poster } from "./poster.js";
import { outboundClient, webSlackApi } from "./slack-api.js";
import { SlackStore } from "./store.js";

/** What the gateway's background work is built from. */
export interface BackgroundDeps {
  config: GatewayConfig;
  log: Logger;
  bus: Bus;
  /** Minimum ms between two updates of one job's message. Default 2000. */
  jobUpdateIntervalMs?: number;
}

/** Running background work: `stop()` takes no new messages and finishes those in hand. */
export interface Background {
  stop(): Promise<void>;
  /** False once the work can no longer run (its thread died); absent when it cannot die on its own. */
  alive?(): boolean;
}

/** Bolt needs a receiver; events reach this app from the inbox consumer instead. */
class InboxReceiver implements Receiver {
  init(): void {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

/** The Bolt client options shared by the receiving app and the background app. */
export function boltClientOptions(config: GatewayConfig) {
  const slackApiUrl = slackApiBase(config.SLACK_API_URL);
  return { ...(slackApiUrl ? { slackApiUrl } : {}), retryConfig: { retries: 3, factor: 2 } };
}

/**
 * Everything the gateway does that Slack does not wait for: Bolt's listeners for the Events API
 * deliveries stored in the inbox (mentions, replies, reactions → commands on NATS), and task events
 * rendered into each task's thread. It has its own Bolt app and Web API client, so it can run on a
 * thread of its own (see background-thread.ts), away from the event loop that acknowledges Slack.
 */
export async function runBackground(deps: BackgroundDeps): Promise<Background> {
  const { config, bus, log } = deps;
  const bolt = new App({
    token: config.SLACK_BOT_TOKEN,
    receiver: new InboxReceiver(),
    logger: boltLogger(log),
    clientOptions: boltClientOptions(config),
    deferInitialization: true,
  });
  bolt.error(async (err) => {
    // Reaches the inbox consumer, which logs it and redelivers the event with backoff.
    throw err;
  });
  const store = await SlackStore.open(bus);
  const poster = new Poster(webSlackApi(bolt.client), store, log);
  registerInbound(bolt, {
    bus,
    store,
    poster,
    log,
    ...(config.MLLEAD_AGENTS_DIR ? { agentsDir: config.MLLEAD_AGENTS_DIR } : {}),
  });
  // auth.test: proves the token works and tells Bolt the bot's own ids (to ignore its own messages).
  await bolt.init();

  const inbox = await consumeInbox(bus, async (msg) => {
    await bolt.processEvent({
      body: msg.envelope,
      // The HTTP answer went out when the event was stored; there is nothing left to acknowledge.
      ack: async () => undefined,
      ...(msg.retryNum !== undefined ? { retryNum: msg.retryNum } : {}),
      ...(msg.retryReason ? { retryReason: msg.retryReason } : {}),
      customProperties: { mllead: msg.oversized ? { oversized: msg.oversized } : {} },
    });
  });

  // Task events → the outbox → Slack, with a client that hands 429s back so only the limited lane waits.
  const rendering = await startOutbound({
    bus,
    store,
    slack: webSlackApi(outboundClient(config.SLACK_BOT_TOKEN, slackApiBase(config.SLACK_API_URL))),
    log,
    ...(deps.jobUpdateIntervalMs !== undefined ? { jobUpdateIntervalMs: deps.jobUpdateIntervalMs } : {}),
  });

  return {
    stop: async () => {
      await inbox.stop();
      await rendering.stop();
    },
  };
}

import type { Bus } from "@mllead/bus";
import type { Receiver } from "@slack/bolt";
import type { Logger } from "pino";
import { artifactLinker, DEFAULT_LINK_TTL_HOURS } from "./artifact-links.js";
import { createMlleadApp } from "./bolt-app.js";
import { type GatewayConfig, slackApiBase } from "./config.js";
import { consumeInbox, InboxSeal } from "./inbox.js";
import { startOutbound } from "./outbound.js";
import { outboundClient, webSlackApi } from "./web-slack-api.js";

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

/**
 * Everything the gateway does that Slack does not wait for: Bolt's listeners for the Events API
 * deliveries stored in the inbox (mentions, replies, reactions → commands on NATS), and task events
 * rendered into each task's thread. It has its own Bolt app and Web API client, so it can run on a
 * thread of its own (see background-thread.ts), away from the event loop that acknowledges Slack.
 */
export async function runBackground(deps: BackgroundDeps): Promise<Background> {
  const { config, bus, log } = deps;
  // Listener errors reach the inbox consumer, which logs them and redelivers the event with backoff.
  const { bolt, store } = await createMlleadApp(config, new InboxReceiver(), { bus, log });
  // auth.test: proves the token works and tells Bolt the bot's own ids (to ignore its own messages).
  await bolt.init();

  const inbox = await consumeInbox(bus, new InboxSeal(config), async (msg) => {
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
    links: artifactLinker({
      publicUrl: config.MLLEAD_PUBLIC_URL,
      secret: config.MLLEAD_ARTIFACT_LINK_SECRET,
      ttlHours: config.MLLEAD_ARTIFACT_LINK_TTL_HOURS ?? DEFAULT_LINK_TTL_HOURS,
    }),
    ...(deps.jobUpdateIntervalMs !== undefined ? { jobUpdateIntervalMs: deps.jobUpdateIntervalMs } : {}),
  });

  return {
    stop: async () => {
      await inbox.stop();
      await rendering.stop();
    },
  };
}

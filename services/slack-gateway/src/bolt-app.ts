import type { Bus } from "@mllead/bus";
import { App, type Receiver } from "@slack/bolt";
import type { Logger } from "pino";
import { boltLogger } from "./bolt-logger.js";
import { type GatewayConfig, slackApiBase } from "./config.js";
import { registerInbound } from "./inbound.js";
import { Poster } from "./outbound/poster.js";
import { SlackStore } from "./store.js";
import { webSlackApi } from "./web-slack-api.js";

/** The Bolt client options shared by the receiving app and the background app. */
export function boltClientOptions(config: GatewayConfig) {
  const slackApiUrl = slackApiBase(config.SLACK_API_URL);
  return { ...(slackApiUrl ? { slackApiUrl } : {}), retryConfig: { retries: 3, factor: 2 } };
}

/**
 * A Bolt app over `receiver` with mllead's listeners (mentions, replies, reactions, buttons, modals,
 * commands, App Home). The gateway builds two: one behind the receiver that acknowledges Slack
 * (interactions, commands; every event in Socket Mode) and one in the background for the events
 * the inbox stores. Listener errors are rethrown to whichever delivered the input. Call `init()`.
 */
export async function createMlleadApp(
  config: GatewayConfig,
  receiver: Receiver,
  deps: { bus: Bus; log: Logger; logger?: ReturnType<typeof boltLogger> },
): Promise<{ bolt: App; store: SlackStore }> {
  const bolt = new App({
    token: config.SLACK_BOT_TOKEN,
    receiver,
    logger: deps.logger ?? boltLogger(deps.log),
    clientOptions: boltClientOptions(config),
    deferInitialization: true,
  });
  bolt.error(async (err) => {
    throw err;
  });
  const store = await SlackStore.open(deps.bus);
  const poster = new Poster(webSlackApi(bolt.client), store, deps.log);
  registerInbound(bolt, {
    bus: deps.bus,
    store,
    poster,
    log: deps.log,
    ...(config.MLLEAD_AGENTS_DIR ? { agentsDir: config.MLLEAD_AGENTS_DIR } : {}),
  });
  return { bolt, store };
}

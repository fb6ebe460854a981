import type { Bus, Consumption } from "@mllead/bus";
import { CONSUMERS, TaskEvent } from "@mllead/contracts";
import type { RunningService } from "@mllead/service-kit";
import { App, type Receiver, SocketModeReceiver } from "@slack/bolt";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { boltLogger } from "./bolt-logger.js";
import { checkGatewayConfig, type GatewayConfig, slackApiBase } from "./config.js";
import { registerInbound } from "./inbound.js";
import { EventRenderer } from "./outbound.js";
import { Poster } from "./poster.js";
import { FastifyReceiver } from "./receiver.js";
import { webSlackApi } from "./slack-api.js";
import { SlackStore } from "./store.js";
import { KeyedThrottle } from "./throttle.js";

/** What the gateway is built from; `runService` provides all of it, and tests build it in-process. */
export interface GatewayDeps {
  config: GatewayConfig;
  log: Logger;
  bus: Bus;
  /** The service's Fastify app, before it listens: `/slack/events` is added to it in HTTP mode. */
  http: FastifyInstance;
  /** Minimum ms between two updates of one job's message. Default 2000. */
  jobUpdateIntervalMs?: number;
}

/** A started gateway: the RunningService for runService, plus the Bolt app for tests and tooling. */
export interface Gateway extends RunningService {
  bolt: App;
}

/**
 * Builds and starts the gateway: a Bolt app (HTTP on the service's Fastify app, or Socket Mode
 * when SLACK_APP_TOKEN is set) that turns Slack input into NATS commands, and a consumer that
 * turns task events into messages in each task's thread.
 */
export async function startGateway(deps: GatewayDeps): Promise<Gateway> {
  const { config, bus } = deps;
  checkGatewayConfig(config);
  const log = deps.log.child({ component: "slack-gateway" });
  const slackApiUrl = slackApiBase(config.SLACK_API_URL);
  const clientOptions = slackApiUrl ? { slackApiUrl } : {};
  const logger = boltLogger(log);

  const receiver: Receiver = config.SLACK_APP_TOKEN
    ? new SocketModeReceiver({ appToken: config.SLACK_APP_TOKEN, logger, installerOptions: { clientOptions } })
    : new FastifyReceiver({ http: deps.http, signingSecret: config.SLACK_SIGNING_SECRET ?? "", log });

  const bolt = new App({
    token: config.SLACK_BOT_TOKEN,
    receiver,
    logger,
    clientOptions: { ...clientOptions, retryConfig: { retries: 3, factor: 2 } },
    deferInitialization: true,
  });
  bolt.error(async (err) => {
    // Listener errors reach the receiver, which logs them and answers Slack; rethrow so it sees them.
    throw err;
  });

  const store = await SlackStore.open(bus);
  const poster = new Poster(webSlackApi(bolt.client), store, log);
  registerInbound(bolt, { bus, store, poster, log });

  // auth.test: proves the token works and tells Bolt the bot's own ids (to ignore its own messages).
  await bolt.init();
  await bolt.start();
  log.info(
    { mode: config.SLACK_APP_TOKEN ? "socket" : "http", slackApiUrl: slackApiUrl ?? "https://slack.com/api/" },
    "Slack app started",
  );

  const throttle = new KeyedThrottle(deps.jobUpdateIntervalMs ?? 2000, (key, err) =>
    log.warn({ err, key }, "a throttled job update failed; the next one redraws it"),
  );
  const renderer = new EventRenderer({ bus, store, poster, throttle, log });
  const consumption: Consumption = await bus.consume(CONSUMERS.gateway, TaskEvent, (event, ctx) => renderer.handle(event, ctx));

  let ready = true;
  return {
    bolt,
    readiness: { slack: () => ready },
    stop: async () => {
      ready = false;
      await consumption.stop();
      await throttle.close();
      await bolt.stop().catch((err: unknown) => log.warn({ err }, "Slack receiver did not stop cleanly"));
    },
  };
}

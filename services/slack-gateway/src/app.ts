import type { Bus } from "@mllead/bus";
import type { RunningService, TracingConfig } from "@mllead/service-kit";
import { type App, type Receiver, SocketModeReceiver } from "@slack/bolt";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { registerArtifactRoute } from "./artifact-route.js";
import { type Background, runBackground } from "./background.js";
import { startBackgroundThread } from "./background-thread.js";
import { createMlleadApp } from "./bolt-app.js";
import { boltLogger } from "./bolt-logger.js";
import { checkGatewayConfig, type GatewayConfig, slackApiBase } from "./config.js";
import { InboxSeal, provisionInbox, storeInInbox } from "./inbox.js";
import { FastifyReceiver } from "./receiver.js";

/** What the gateway is built from: `runService`'s context provides all of it, and tests build it in-process. */
export interface GatewayDeps {
  /** With the OTEL_* settings (runService's config has them), which the background thread needs for its own traces. */
  config: GatewayConfig & TracingConfig;
  log: Logger;
  bus: Bus;
  /** The service's Fastify app, before it listens: `/slack/events` is added to it in HTTP mode. */
  http: FastifyInstance;
  /** NATS server(s) for the background thread's own connection. Default: the server `bus` is connected to. */
  natsUrl?: string;
  /** Minimum ms between two updates of one job's message. Default 2000. */
  jobUpdateIntervalMs?: number;
  /** The service's metrics registry (runService's context); the gateway's own metrics are not kept without it. */
  registry?: Registry;
}

/** A started gateway: the RunningService for runService, plus the receiving Bolt app for tests and tooling. */
export interface Gateway extends RunningService {
  bolt: App;
}

/**
 * Builds and starts the gateway (`create: (ctx) => createGateway(ctx)`). The main thread receives Slack: a Bolt app on the service's
 * Fastify app (or Socket Mode when SLACK_APP_TOKEN is set) that stores Events API deliveries in the
 * gateway's inbox before acknowledging them and answers interactions and slash commands itself.
 * The background work — Bolt's listeners for the stored events and the rendering of task events
 * into threads — runs on a thread of its own (GATEWAY_BACKGROUND=thread, the default) or inline.
 */
export async function createGateway(deps: GatewayDeps): Promise<Gateway> {
  const { config, bus } = deps;
  checkGatewayConfig(config);
  const log = deps.log.child({ component: "slack-gateway" });
  const slackApiUrl = slackApiBase(config.SLACK_API_URL);
  const logger = boltLogger(log);

  // The inbox is the gateway's own stream: Events API deliveries are durable there before Slack's 200.
  await provisionInbox(bus);
  const seal = new InboxSeal(config);
  const receiver: Receiver = config.SLACK_APP_TOKEN
    ? new SocketModeReceiver({
        appToken: config.SLACK_APP_TOKEN,
        logger,
        installerOptions: { clientOptions: slackApiUrl ? { slackApiUrl } : {} },
      })
    : new FastifyReceiver({
        http: deps.http,
        signingSecret: config.SLACK_SIGNING_SECRET ?? "",
        log,
        store: (msg) => storeInInbox(bus, seal, msg),
      });

  // Interactions and slash commands are answered here; in Socket Mode, events arrive here too. Listener
  // errors reach the receiver, which logs them and answers Slack.
  const { bolt } = await createMlleadApp(config, receiver, { bus, log, logger });
  // Signed, expiring links to artifacts the thread does not upload (MLLEAD_PUBLIC_URL makes them).
  if (config.MLLEAD_ARTIFACT_LINK_SECRET) {
    const { http, registry } = deps;
    registerArtifactRoute({ http, bus, secret: config.MLLEAD_ARTIFACT_LINK_SECRET, log, ...(registry ? { registry } : {}) });
  }

  const background = await startBackgroundWork(deps, log);
  try {
    // auth.test: proves the token works and tells Bolt the bot's own ids (to ignore its own messages).
    await bolt.init();
    await bolt.start();
  } catch (err) {
    await background.stop();
    throw err;
  }
  log.info(
    {
      mode: config.SLACK_APP_TOKEN ? "socket" : "http",
      background: config.GATEWAY_BACKGROUND ?? "thread",
      slackApiUrl: slackApiUrl ?? "https://slack.com/api/",
    },
    "Slack app started",
  );

  let ready = true;
  return {
    bolt,
    readiness: { slack: () => ready && (background.alive?.() ?? true) },
    stop: async () => {
      ready = false;
      // Stop taking requests first, then finish the stored events and renders in hand.
      await bolt.stop().catch((err: unknown) => log.warn({ err }, "Slack receiver did not stop cleanly"));
      await background.stop();
    },
  };
}

async function startBackgroundWork(deps: GatewayDeps, log: Logger): Promise<Background> {
  const opts = deps.jobUpdateIntervalMs !== undefined ? { jobUpdateIntervalMs: deps.jobUpdateIntervalMs } : {};
  if (deps.config.GATEWAY_BACKGROUND === "inline") return runBackground({ config: deps.config, log, bus: deps.bus, ...opts });
  // The thread connects as the gateway's own NATS user, with the gateway's reply prefix.
  const nats = { ...deps.bus.access(), ...(deps.natsUrl ? { url: deps.natsUrl } : {}) };
  return startBackgroundThread({ config: deps.config, nats, log, ...opts });
}

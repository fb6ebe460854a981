import { Bus } from "@mllead/bus";
import { CONSUMERS, everyResource, TaskCreate, TaskDecide } from "@mllead/contracts";
import { buildHttpApp, createLogger, createRegistry } from "@mllead/service-kit";
import { type SlackSandbox, type SlackSandboxOptions, startSlackSandbox } from "@mllead/slack-sandbox";
import { createGateway } from "../../services/slack-gateway/src/app.js";
import type { GatewayConfig } from "../../services/slack-gateway/src/config.js";
import { type NatsServer, startNatsServer } from "./nats-server.js";

export const BOT_TOKEN = "xoxb-gateway-test";
export const SIGNING_SECRET = "gateway-test-signing-secret";

/** A command the gateway published, as the tech lead would receive it. */
export type Command = { subject: "create"; cmd: TaskCreate } | { subject: "decide"; cmd: TaskDecide };

export interface GatewayHarness extends AsyncDisposable {
  nats: NatsServer;
  sandbox: SlackSandbox;
  /** A second NATS client playing the tech lead: emits events, answers queries. */
  lead: Bus;
  /** Every command the gateway published, in stream order (duplicates dropped by JetStream never show). */
  commands: Command[];
  creates(): TaskCreate[];
  decides(): TaskDecide[];
  gatewayUrl: string;
}

/**
 * A real nats-server, the Slack sandbox, and the real gateway built in-process and listening on
 * real HTTP — signed requests in, Web API calls out, NATS in between.
 */
export async function startGatewayHarness(
  opts: {
    jobUpdateIntervalMs?: number;
    sandbox?: Partial<SlackSandboxOptions>;
    agentsDir?: string;
    /** Socket Mode: the gateway gets the sandbox's app token and no signing secret, and Slack's payloads go over its WebSocket. */
    socketMode?: boolean;
    /** More gateway settings (artifact links, …). */
    config?: Partial<GatewayConfig>;
  } = {},
): Promise<GatewayHarness> {
  const nats = await startNatsServer();
  const log = createLogger("slack-gateway", "silent");
  const sandbox = await startSlackSandbox({ ...opts.sandbox, botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET });
  const bus = await Bus.connect({ url: nats.url, name: "slack-gateway", log });
  await bus.setUp(everyResource([CONSUMERS.gateway, CONSUMERS.techLeadCommands]));
  const http = buildHttpApp({ log, registry: createRegistry("slack-gateway"), checks: { readiness: {} } });
  const gateway = await createGateway({
    config: {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      ...(opts.socketMode ? { SLACK_APP_TOKEN: sandbox.appToken } : { SLACK_SIGNING_SECRET: SIGNING_SECRET }),
      SLACK_API_URL: sandbox.apiUrl,
      GATEWAY_PORT: 0,
      ...(opts.agentsDir ? { MLLEAD_AGENTS_DIR: opts.agentsDir } : {}),
      ...opts.config,
    },
    log,
    bus,
    http,
    ...(opts.jobUpdateIntervalMs !== undefined ? { jobUpdateIntervalMs: opts.jobUpdateIntervalMs } : {}),
  });
  await http.listen({ port: 0, host: "127.0.0.1" });
  const addr = http.server.address();
  const port = addr && typeof addr === "object" ? addr.port : 0;
  const gatewayUrl = `http://127.0.0.1:${port}`;
  if (!opts.socketMode) sandbox.setGatewayUrl(`${gatewayUrl}/slack/events`);

  const lead = await Bus.connect({ url: nats.url, name: "fake-tech-lead", log });
  const commands: Command[] = [];
  const Any = TaskCreate.or(TaskDecide);
  await lead.consume(CONSUMERS.techLeadCommands, Any, async (cmd, ctx) => {
    commands.push(
      ctx.subject.endsWith(".create")
        ? { subject: "create", cmd: cmd as TaskCreate }
        : { subject: "decide", cmd: cmd as TaskDecide },
    );
  });

  return {
    nats,
    sandbox,
    lead,
    commands,
    gatewayUrl,
    creates: () => commands.flatMap((c) => (c.subject === "create" ? [c.cmd] : [])),
    decides: () => commands.flatMap((c) => (c.subject === "decide" ? [c.cmd] : [])),
    [Symbol.asyncDispose]: async () => {
      await gateway.stop();
      await http.close();
      await lead.close();
      await bus.close();
      await sandbox.close();
      await nats[Symbol.asyncDispose]();
    },
  };
}

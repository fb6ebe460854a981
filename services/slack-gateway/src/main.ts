import { BUCKET_SPECS, CONSUMERS, STREAMS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { createGateway } from "./app.js";
import { GatewayConfig } from "./config.js";
import { INBOX_CONSUMER, INBOX_STREAM } from "./inbox.js";

await runService({
  name: "slack-gateway",
  config: GatewayConfig,
  // The gateway owns its inbox and its Slack bookkeeping; it publishes commands into the tech lead's stream
  // and reads task events from it. Runners and artifacts are opened when asked for (there may be no runner).
  resources: () => ({
    owns: { streams: [INBOX_STREAM], buckets: [BUCKET_SPECS.slack] },
    uses: { streams: [STREAMS.commands.name] },
    consumers: [INBOX_CONSUMER, CONSUMERS.gateway],
  }),
  port: (config) => config.GATEWAY_PORT,
  create: (ctx) => createGateway(ctx),
});

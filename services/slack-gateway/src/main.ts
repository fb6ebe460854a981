import { CONSUMERS } from "@mllead/contracts";
import { runService } from "@mllead/service-kit";
import { startGateway } from "./app.js";
import { GatewayConfig } from "./config.js";

await runService({
  name: "slack-gateway",
  config: GatewayConfig,
  consumers: () => [CONSUMERS.gateway],
  port: (config) => config.GATEWAY_PORT,
  start: ({ config, log, bus, http }) => startGateway({ config, log, bus, http, natsUrl: config.NATS_URL }),
});

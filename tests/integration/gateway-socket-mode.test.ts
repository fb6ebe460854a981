import { Bus } from "@mllead/bus";
import { CONSUMERS, everyResource } from "@mllead/contracts";
import { buildHttpApp, ConfigError, createLogger, createRegistry } from "@mllead/service-kit";
import { startSlackSandbox } from "@mllead/slack-sandbox";
import { describe, expect, it } from "vitest";
import { createGateway } from "../../services/slack-gateway/src/app.js";
import { BOT_TOKEN, SIGNING_SECRET } from "../helpers/gateway.js";
import { startNatsServer } from "../helpers/nats-server.js";

describe("slack-gateway configuration", () => {
  it("in Socket Mode sends apps.connections.open to SLACK_API_URL too", async () => {
    await using nats = await startNatsServer();
    await using sandbox = await startSlackSandbox({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET });
    const log = createLogger("slack-gateway", "silent");
    const bus = await Bus.connect({ url: nats.url, name: "gw", log });
    await bus.setUp(everyResource([CONSUMERS.gateway]));
    const http = buildHttpApp({ log, registry: createRegistry("slack-gateway"), checks: { readiness: {} } });
    // An app token the sandbox did not issue is refused (invalid_auth); what matters is where the gateway asked.
    await expect(
      createGateway({
        config: { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: "xapp-1-test", SLACK_API_URL: sandbox.apiUrl, GATEWAY_PORT: 0 },
        log,
        bus,
        http,
      }),
    ).rejects.toThrow(/invalid_auth/);
    expect(sandbox.calls("apps.connections.open")).toHaveLength(1);
    expect(sandbox.calls("auth.test").length).toBeGreaterThan(0);
    await http.close();
    await bus.close();
  });

  it("refuses to start in HTTP mode without a signing secret, naming the variable", async () => {
    await using nats = await startNatsServer();
    const log = createLogger("slack-gateway", "silent");
    const bus = await Bus.connect({ url: nats.url, name: "gw", log });
    const http = buildHttpApp({ log, registry: createRegistry("slack-gateway"), checks: { readiness: {} } });
    const start = createGateway({ config: { SLACK_BOT_TOKEN: BOT_TOKEN, GATEWAY_PORT: 0 }, log, bus, http });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(/SLACK_SIGNING_SECRET/);
    await http.close();
    await bus.close();
  });
});

import { Writable } from "node:stream";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BaseConfig, ConfigError, loadConfig, natsCredentials } from "./config.js";
import { buildHttpApp } from "./http.js";
import { createLogger, scrubSecrets } from "./logger.js";

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("loadConfig", () => {
  const Schema = BaseConfig.extend({
    GATEWAY_PORT: z.coerce.number().int().min(1).max(65535),
    SLACK_BOT_TOKEN: z.string().min(1),
  });

  it("parses once, with defaults, treating empty strings as unset", () => {
    const c = loadConfig(Schema, { GATEWAY_PORT: "3000", SLACK_BOT_TOKEN: "xoxb-1", NATS_URL: "" });
    expect(c.GATEWAY_PORT).toBe(3000);
    expect(c.NATS_URL).toBe("nats://127.0.0.1:4222");
    expect(c.LOG_LEVEL).toBe("info");
  });

  it("names every missing or malformed variable", () => {
    const err = (() => {
      try {
        loadConfig(Schema, { GATEWAY_PORT: "eighty" });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.code).toBe("config_invalid");
    expect(err?.message).toMatch(/GATEWAY_PORT: /);
    expect(err?.message).toMatch(/SLACK_BOT_TOKEN is required but not set/);
  });
});

describe("natsCredentials", () => {
  const creds = (env: Record<string, string>) => natsCredentials(loadConfig(BaseConfig, env));

  it("reads NATS_CREDS (a file) or NATS_USER with NATS_PASSWORD; neither is anonymous", () => {
    expect(creds({ NATS_CREDS: "/run/secrets/nats-seed" })).toEqual({ credsFile: "/run/secrets/nats-seed" });
    expect(creds({ NATS_USER: "tech-lead", NATS_PASSWORD: "pw" })).toEqual({ user: "tech-lead", password: "pw" });
    expect(creds({ NATS_USER: "", NATS_PASSWORD: "" })).toBeUndefined();
  });

  it("refuses half a user or both kinds, naming the variable", () => {
    expect(() => creds({ NATS_USER: "tech-lead" })).toThrow(/NATS_PASSWORD is required with NATS_USER/);
    expect(() => creds({ NATS_PASSWORD: "pw" })).toThrow(/NATS_USER is required with NATS_PASSWORD/);
    expect(() => creds({ NATS_CREDS: "/x", NATS_USER: "u", NATS_PASSWORD: "p" })).toThrow(ConfigError);
  });
});

describe("logger", () => {
  it("redacts secrets by key and by shape, in messages and errors", () => {
    const out = capture();
    const log = createLogger("svc", "info", out.stream);
    log.info({ botToken: "xoxb-111-222-abc", headers: { authorization: "Bearer sk-ant-api03-secret" } }, "connecting");
    log.error({ err: new Error("auth failed for xoxb-999-888-zzz") }, "Slack said no to xapp-1-A1-secret");
    log.info({ config: { ANTHROPIC_API_KEY: "sk-ant-api03-abc", SLACK_SIGNING_SECRET: "s3cr3t" } }, "config");
    const text = out.text();
    for (const secret of ["xoxb-111", "sk-ant-api03", "xoxb-999", "xapp-1-A1", "s3cr3t"]) expect(text).not.toContain(secret);
    expect(text).toContain("[redacted]");
    expect(text).toContain("connecting");
  });

  it("redacts NATS passwords and nkey seeds", () => {
    const out = capture();
    const log = createLogger("svc", "info", out.stream);
    const seed = "SUAJZRQK7YJOLIL7SUV7L6LJDWITO3CGGVMQMFEPSP2U6TZO2SMEYGLEYU";
    log.info({ config: { NATS_PASSWORD: "hunter2-nats" }, credentials: { user: "tech-lead", password: "pw-abc123" } }, "nats");
    log.error({ err: new Error(`bad seed ${seed}`) }, `seed file said ${seed}`);
    const text = out.text();
    for (const secret of ["hunter2-nats", "pw-abc123", seed]) expect(text).not.toContain(secret);
    expect(text).toContain("tech-lead");
  });

  it("scrubs token shapes from free text", () => {
    expect(scrubSecrets("token xoxb-1-2-3 and key sk-ant-abc_def")).toBe("token [redacted] and key [redacted]");
  });
});

describe("health app", () => {
  it("answers /healthz, reports readiness per check, and serves Prometheus metrics", async () => {
    let natsUp = false;
    const registry = new Registry();
    const app = buildHttpApp({ log: createLogger("svc", "silent"), registry, checks: { readiness: { nats: () => natsUp } } });
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    const down = await app.inject({ url: "/readyz" });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({ ok: false, checks: { nats: false } });
    natsUp = true;
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);
    registry.registerMetric(new (await import("prom-client")).Counter({ name: "mllead_test_total", help: "t", registers: [] }));
    const metrics = await app.inject({ url: "/metrics" });
    expect(metrics.headers["content-type"]).toMatch(/text\/plain/);
    expect(metrics.body).toContain("mllead_test_total");
    await app.close();
  });
});

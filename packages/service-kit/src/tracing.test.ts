import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { BaseConfig, ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startTracing, tracesUrl } from "./tracing.js";

describe("tracing configuration (OpenTelemetry's standard variables)", () => {
  it("sends to the traces endpoint, else to the base endpoint's /v1/traces, else nowhere", () => {
    const parse = (env: NodeJS.ProcessEnv) => tracesUrl(loadConfig(BaseConfig, env));
    expect(parse({})).toBeUndefined();
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })).toBe("http://collector:4318/v1/traces");
    expect(
      parse({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://tempo:4318/v1/traces",
      }),
    ).toBe("http://tempo:4318/v1/traces");
    expect(parse({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" })).toBeUndefined();
    expect(() => parse({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318 " })).toThrow(ConfigError);
  });

  it("registers nothing when no endpoint is set: spans stay the API's no-op", async () => {
    const tracing = await startTracing("t", {}, createLogger("t", "silent"));
    expect(tracing.enabled).toBe(false);
    await tracing.flush();
    await tracing.shutdown();
    const span = trace.getTracer("t").startSpan("x");
    expect(span.isRecording()).toBe(false);
    span.end();
  });
});

import { hostname } from "node:os";
import type { Context } from "@opentelemetry/api";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-node";
import type { Logger } from "pino";
import type { BaseConfig } from "./config.js";
import { scrubSecrets } from "./logger.js";

/** A process's tracing: `shutdown` exports what is still buffered and stops. */
export interface Tracing {
  /** Whether spans are recorded and exported (an OTLP endpoint is configured). */
  readonly enabled: boolean;
  /** Exports what is buffered now (spans go out in batches every OTEL_BSP_SCHEDULE_DELAY ms, default 5 s). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The variables tracing reads (BaseConfig's OTEL_* fields); a thread of a service hands them on as they are. */
export type TracingConfig = Partial<
  Pick<BaseConfig, "OTEL_EXPORTER_OTLP_ENDPOINT" | "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" | "OTEL_SDK_DISABLED">
>;

const OFF: Tracing = { enabled: false, flush: async () => undefined, shutdown: async () => undefined };

/**
 * Where traces go, from OpenTelemetry's standard variables: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, else
 * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`; undefined when neither is set or OTEL_SDK_DISABLED is true.
 */
export function tracesUrl(config: TracingConfig): string | undefined {
  if (config.OTEL_SDK_DISABLED) return undefined;
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? `${base.replace(/\/+$/, "")}/v1/traces` : undefined;
}

/**
 * Error texts recorded on spans (a failed handler's message and stack) leave the process for the collector:
 * they are scrubbed of token shapes as the logger scrubs them. Runs before the exporting processor.
 */
class ScrubbingProcessor implements SpanProcessor {
  onStart(_span: Span, _parent: Context): void {}
  onEnd(span: ReadableSpan): void {
    const status = span.status as { message?: string };
    if (status.message) status.message = scrubSecrets(status.message);
    for (const event of span.events) {
      const attrs = event.attributes as Record<string, unknown> | undefined;
      if (!attrs) continue;
      for (const [k, v] of Object.entries(attrs)) if (typeof v === "string") attrs[k] = scrubSecrets(v);
    }
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/**
 * Registers a tracer provider for this process (or thread) when an OTLP endpoint is configured: spans batched
 * and sent as OTLP/HTTP JSON, `service.name` = `service`, the W3C trace-context propagator and the async
 * context manager that let the bus carry a trace through NATS headers. The SDK is imported only then, so a
 * process without an endpoint loads none of it and every span call stays the API's no-op.
 * Standard variables the SDK itself reads still apply (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES,
 * OTEL_BSP_SCHEDULE_DELAY, OTEL_TRACES_SAMPLER …).
 */
export async function startTracing(service: string, config: TracingConfig, log: Logger): Promise<Tracing> {
  const url = tracesUrl(config);
  if (!url) return OFF;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, resources] = await Promise.all([
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  const host = hostname();
  // Ours first, then OTEL_RESOURCE_ATTRIBUTES over it, then the service's name over everything.
  const resource = resources
    .resourceFromAttributes({ "service.namespace": "mllead", "service.instance.id": `${host}:${process.pid}`, "host.name": host })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }))
    .merge(resources.resourceFromAttributes({ "service.name": service }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new ScrubbingProcessor(), new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  provider.register();
  // The origin only: a URL may carry a token in its query or user part.
  log.info({ collector: new URL(url).origin }, "exporting traces over OTLP/HTTP");
  return { enabled: true, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

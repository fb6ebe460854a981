import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { z } from "zod";

/**
 * A local OTLP/HTTP trace receiver: what an OpenTelemetry Collector, Jaeger or Tempo does at `POST /v1/traces`,
 * for the encoding @opentelemetry/exporter-trace-otlp-http sends — OTLP/HTTP JSON (`application/json`, ids
 * as hex strings, per https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). Anything else (another
 * path, protobuf) is answered 404/415 and counted as refused, so a change of protocol fails the test.
 */

const AnyValue = z.looseObject({
  stringValue: z.string().optional(),
  intValue: z.union([z.string(), z.number()]).optional(),
  boolValue: z.boolean().optional(),
  doubleValue: z.number().optional(),
});
const KeyValue = z.object({ key: z.string(), value: AnyValue });
const HexId = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));

const OtlpSpan = z.looseObject({
  traceId: HexId(16),
  spanId: HexId(8),
  parentSpanId: z.union([HexId(8), z.literal("")]).optional(),
  name: z.string(),
  kind: z.number().int(),
  startTimeUnixNano: z.union([z.string(), z.number()]),
  endTimeUnixNano: z.union([z.string(), z.number()]),
  attributes: z.array(KeyValue).default([]),
  links: z.array(z.looseObject({ traceId: HexId(16), spanId: HexId(8) })).default([]),
  events: z.array(z.looseObject({ name: z.string(), attributes: z.array(KeyValue).default([]) })).default([]),
  status: z.looseObject({ code: z.number().int().optional(), message: z.string().optional() }).optional(),
});

/** The body of `POST /v1/traces`: an ExportTraceServiceRequest. */
const ExportTraceServiceRequest = z.object({
  resourceSpans: z.array(
    z.looseObject({
      resource: z.looseObject({ attributes: z.array(KeyValue).default([]) }),
      scopeSpans: z.array(z.looseObject({ scope: z.looseObject({ name: z.string() }).optional(), spans: z.array(OtlpSpan) })),
    }),
  ),
});

/** One received span, flattened: ids, name, kind, its service and attributes as plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Undefined for a trace's root. */
  parentSpanId: string | undefined;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  service: string;
  scope: string;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
  /** Span events (a recorded exception is `exception`, with `exception.message` and `exception.stacktrace`). */
  events: { name: string; attributes: Record<string, string | number | boolean> }[];
  /** OTLP's status code: 0 unset, 1 ok, 2 error; and its message. */
  statusCode: number;
  statusMessage: string;
}

export interface OtlpCollector extends AsyncDisposable {
  /** The base URL to hand the exporter as OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** Requests refused (wrong path, content type or body): zero when the exporter speaks OTLP/HTTP JSON. */
  refused: string[];
}

function plain(attrs: z.infer<typeof KeyValue>[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attrs) {
    const v = value.stringValue ?? value.boolValue ?? value.doubleValue ?? value.intValue;
    if (v !== undefined) out[key] = typeof v === "string" && value.intValue !== undefined ? Number(v) : v;
  }
  return out;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
}

function flatten(request: z.infer<typeof ExportTraceServiceRequest>): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans) {
    const resource = plain(rs.resource.attributes);
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans)
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined,
          name: s.name,
          kind: s.kind,
          service: String(resource["service.name"] ?? ""),
          scope: ss.scope?.name ?? "",
          attributes: plain(s.attributes),
          links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
          events: s.events.map((e) => ({ name: e.name, attributes: plain(e.attributes) })),
          statusCode: s.status?.code ?? 0,
          statusMessage: s.status?.message ?? "",
        });
  }
  return out;
}

/** Starts the receiver on a free port of 127.0.0.1. */
export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: ReceivedSpan[] = [];
  const refused: string[] = [];
  const server = createServer((req, res) => {
    const answer = (status: number, text: string) => {
      if (status !== 200) refused.push(`${req.method} ${req.url} ${req.headers["content-type"]}: ${text}`);
      res
        .writeHead(status, { "content-type": "application/json" })
        .end(status === 200 ? text : JSON.stringify({ message: text }));
    };
    if (req.method !== "POST" || req.url !== "/v1/traces") return answer(404, "not an OTLP traces endpoint");
    if (!req.headers["content-type"]?.startsWith("application/json")) return answer(415, "only OTLP/HTTP JSON here");
    body(req)
      .then((raw) => {
        const parsed = ExportTraceServiceRequest.safeParse(JSON.parse(raw.toString("utf8")));
        if (!parsed.success) return answer(400, z.prettifyError(parsed.error));
        spans.push(...flatten(parsed.data));
        // An ExportTraceServiceResponse with nothing rejected.
        answer(200, "{}");
      })
      .catch((err: unknown) => answer(400, (err as Error).message));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    refused,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

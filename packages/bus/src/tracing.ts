import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";

/**
 * Traces across services: W3C trace context (`traceparent`, `tracestate`) travels in NATS headers. Only the
 * OpenTelemetry API is used here: until a service registers an SDK (service-kit does when an OTLP endpoint is
 * configured) every call below is a no-op — no span is recorded and no header is added.
 */
const tracer = () => trace.getTracer("@mllead/bus");

/** A trace context as it is kept on a record (a task) so that work days later joins the same trace. */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string | undefined;
}

const setHeader: TextMapSetter<MsgHdrs> = { set: (h, key, value) => h.set(key, value) };
const getHeader: TextMapGetter<MsgHdrs | undefined> = {
  get: (h, key) => h?.get(key) || undefined,
  keys: (h) => h?.keys() ?? [],
};
const carrierGetter: TextMapGetter<TraceCarrier> = {
  get: (c, key) => (key === "traceparent" ? c.traceparent : key === "tracestate" ? c.tracestate : undefined),
  keys: () => ["traceparent", "tracestate"],
};

/** Attribute names from OpenTelemetry's messaging semantic conventions (NATS has no registered name of its own). */
export const MESSAGING = {
  system: "messaging.system",
  destination: "messaging.destination.name",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  messageId: "messaging.message.id",
  consumerGroup: "messaging.consumer.group.name",
  subscription: "messaging.destination.subscription.name",
  bodySize: "messaging.message.body.size",
  /** `messaging.<system>.message.delivery_count`, as the conventions name it for Service Bus and Pub/Sub. */
  deliveryCount: "messaging.nats.message.delivery_count",
  stream: "messaging.nats.stream",
  streamSequence: "messaging.nats.message.stream_sequence",
} as const;

/** The active span's context, when there is one worth carrying (a valid, sampled or not, trace). */
function activeSpanContext(ctx: Context) {
  const sc = trace.getSpanContext(ctx);
  return sc && trace.isSpanContextValid(sc) ? sc : undefined;
}

/** The active trace context as a carrier for a record; undefined outside a trace (or with no SDK registered). */
export function currentTrace(): TraceCarrier | undefined {
  const ctx = context.active();
  if (!activeSpanContext(ctx)) return undefined;
  const out: Record<string, string> = {};
  propagation.inject(ctx, out);
  return out.traceparent
    ? { traceparent: out.traceparent, ...(out.tracestate ? { tracestate: out.tracestate } : {}) }
    : undefined;
}

/**
 * Runs `fn` inside the trace `carrier` names (a task's, read from its record) — unless a trace is already
 * active, which is the more exact parent. Without a carrier `fn` runs as it is.
 */
export function withTrace<T>(carrier: TraceCarrier | undefined, fn: () => T): T {
  const active = context.active();
  if (!carrier || activeSpanContext(active)) return fn();
  return context.with(propagation.extract(active, carrier, carrierGetter), fn);
}

/** Where a span of `inSpan` hangs: under the active span (default), at the root of a new trace, or in a kept trace. */
export interface SpanOptions {
  attributes?: Attributes;
  kind?: SpanKind;
  /** Starts a new trace (a task's first span), linked to whatever was active. */
  root?: boolean;
  /**
   * Starts the span in this kept trace (a task's, read from its record) whatever is active — the active span
   * (the Slack event that carried a person's approval) is linked instead.
   */
  parent?: TraceCarrier | undefined;
}

/** Runs `fn` in a new span named `name`, ended when `fn` settles (a throw is recorded as the span's error). */
export async function inSpan<T>(name: string, opts: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const active = context.active();
  const elsewhere = opts.root || opts.parent !== undefined;
  const linked = elsewhere ? activeSpanContext(active) : undefined;
  const parent = opts.parent ? propagation.extract(ROOT_CONTEXT, opts.parent, carrierGetter) : active;
  return tracer().startActiveSpan(
    name,
    {
      kind: opts.kind ?? SpanKind.INTERNAL,
      ...(opts.attributes ? { attributes: opts.attributes } : {}),
      ...(opts.root ? { root: true } : {}),
      ...(linked ? { links: [{ context: linked }] } : {}),
    },
    parent,
    (span) => settle(span, fn),
  );
}

/** Marks a span failed with `err` (recorded as an exception event, the status ERROR with its message). */
export function markFailed(span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

async function settle<T>(span: Span, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await fn(span);
  } catch (err) {
    markFailed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Sends a message inside a producer span whose context travels in the headers handed to `send`. Outside a
 * trace nothing is started and `send` gets no headers: a heartbeat does not open a trace of its own.
 */
export async function producing<T>(
  subject: string,
  op: { name: "publish" | "request"; msgId?: string | undefined; size: number },
  send: (headers: MsgHdrs | undefined) => Promise<T>,
): Promise<T> {
  if (!activeSpanContext(context.active())) return send(undefined);
  const attributes: Attributes = {
    [MESSAGING.system]: "nats",
    [MESSAGING.destination]: subject,
    [MESSAGING.operationType]: "send",
    [MESSAGING.operationName]: op.name,
    [MESSAGING.bodySize]: op.size,
    ...(op.msgId ? { [MESSAGING.messageId]: op.msgId } : {}),
  };
  const kind = op.name === "request" ? SpanKind.CLIENT : SpanKind.PRODUCER;
  return inSpan(`${op.name} ${subject}`, { attributes, kind }, () => {
    const h = natsHeaders();
    propagation.inject(context.active(), h, setHeader);
    return send(h);
  });
}

/**
 * Tries of a deduplicated publish on "no responders" or a timeout (nats.js backs off 0.25 s … 5 s): about 20 s,
 * what a 3-node cluster has taken (measured on nats-server 2.9) to elect a stream's new leader after losing a node.
 */
const PUBLISH_RETRIES = 10;

/** Adds the active trace context to `h` (nothing outside a trace): a kept copy names the trace it failed in. */
export function injectTrace(h: MsgHdrs): void {
  propagation.inject(context.active(), h, setHeader);
}

/** Publishes to JetStream inside a producer span (see `producing`), deduplicated by `msgId` when given. */
export function tracedPublish(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  opts: { msgId?: string | undefined; timeoutMs?: number | undefined },
): Promise<PubAck> {
  return producing(subject, { name: "publish", msgId: opts.msgId, size: data.length }, (headers) =>
    js.publish(subject, data, {
      // With a msgID a retry is deduplicated, so a publish rides out a cluster's leader election (no responders).
      // A caller with its own deadline (`timeoutMs`: the gateway must answer Slack within 3 s) gets one try.
      ...(opts.msgId ? { msgID: opts.msgId } : {}),
      ...(opts.msgId && opts.timeoutMs === undefined ? { retries: PUBLISH_RETRIES } : {}),
      ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
      ...(headers ? { headers } : {}),
    }),
  );
}

/** What a received message says about itself, for its consumer span. */
export interface Received {
  subject: string;
  headers?: MsgHdrs | undefined;
  data: Uint8Array;
  msgId?: string | undefined;
  /** For JetStream deliveries: the stream, the durable consumer, the stream sequence and the delivery count. */
  stream?: string;
  durable?: string;
  streamSeq?: number;
  deliveryCount?: number;
}

function receivedAttributes(m: Received, operation: "process" | "serve"): Attributes {
  return {
    [MESSAGING.system]: "nats",
    [MESSAGING.destination]: m.subject,
    [MESSAGING.operationType]: "process",
    [MESSAGING.operationName]: operation,
    [MESSAGING.bodySize]: m.data.length,
    ...(m.msgId ? { [MESSAGING.messageId]: m.msgId } : {}),
    ...(m.stream ? { [MESSAGING.stream]: m.stream } : {}),
    ...(m.durable ? { [MESSAGING.consumerGroup]: m.durable, [MESSAGING.subscription]: m.durable } : {}),
    ...(m.streamSeq !== undefined ? { [MESSAGING.streamSequence]: m.streamSeq } : {}),
    ...(m.deliveryCount !== undefined ? { [MESSAGING.deliveryCount]: m.deliveryCount } : {}),
  };
}

/**
 * Handles a received message inside a consumer (or server) span whose parent is the context its headers carry
 * (a new trace when they carry none).
 */
export function consuming<T>(m: Received, kind: "process" | "serve", fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = m.headers ? propagation.extract(ROOT_CONTEXT, m.headers, getHeader) : ROOT_CONTEXT;
  const attributes = receivedAttributes(m, kind);
  const spanKind = kind === "serve" ? SpanKind.SERVER : SpanKind.CONSUMER;
  return context.with(parent, () => inSpan(`${kind} ${m.subject}`, { attributes, kind: spanKind }, fn));
}

/** A plain subscription's callback, run inside a consumer span like `consuming` (it is synchronous). */
export function consumingSync(m: Received, fn: () => void): void {
  const parent = m.headers ? propagation.extract(ROOT_CONTEXT, m.headers, getHeader) : ROOT_CONTEXT;
  const span = tracer().startSpan(
    `process ${m.subject}`,
    { kind: SpanKind.CONSUMER, attributes: receivedAttributes(m, "process") },
    parent,
  );
  try {
    context.with(trace.setSpan(parent, span), fn);
  } catch (err) {
    markFailed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

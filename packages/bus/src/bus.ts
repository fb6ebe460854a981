import {
  BUCKET_SPECS,
  type BucketSpec,
  type ConsumerSpec,
  OBJECT_STORE,
  type ServiceResources,
  STREAMS,
  SUBJECTS,
  type TaskEvent,
  TaskEvent as TaskEventSchema,
} from "@mllead/contracts";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { z } from "zod";
import { type ConnectOptions, connectNats, type NatsAccess } from "./connection.js";
import { type ConsumeOptions, type Consumption, consumeDurable, type Handler } from "./consume.js";
import { InvalidMessageError, PayloadTooLargeError } from "./errors.js";
import { formatIssues } from "./issues.js";
import { TypedKv } from "./kv.js";
import { awaitStreams, ensureConsumers, ensureStreams, provisionFailure, streamInfoOrNull } from "./provision.js";
import { waitForLastEvent } from "./wait-event.js";

const TEXT = new TextEncoder();

/** nats-server's default `max_payload` (1 MiB), used until the server says otherwise. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Room kept for headers (msgID, KV's expected revision) when a body is checked against `max_payload`. */
const HEADER_ROOM = 4096;

/** Parses a JSON payload against a schema, throwing InvalidMessageError with a readable reason. */
export function decode<S extends z.ZodType>(subject: string, data: Uint8Array, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    throw new InvalidMessageError(subject, "payload is not JSON", { cause: err });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InvalidMessageError(subject, formatIssues(parsed.error));
  return parsed.data;
}

/**
 * The one door to NATS for a service: typed, validated publish and consume over
 * JetStream, request/reply for queries, KV buckets and the artifact Object Store.
 */
export class Bus {
  private consumptions = new Set<Consumption>();
  private subs = new Set<Subscription>();
  private provisioned = false;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly log: Logger,
    private readonly natsAccess: NatsAccess,
  ) {}

  /** Connects (as the given credentials' user, or anonymously) and checks that JetStream answers. */
  static async connect(opts: ConnectOptions): Promise<Bus> {
    const nc = await connectNats(opts);
    const jsm = await jetstreamManager(nc);
    const { url, credentials, inboxPrefix } = opts;
    return new Bus(nc, jetstream(nc), jsm, opts.log, {
      url,
      ...(credentials ? { credentials } : {}),
      ...(inboxPrefix ? { inboxPrefix } : {}),
    });
  }

  /** Where and as whom this bus connected: what a second connection of the same service (a worker thread) needs. */
  access(): NatsAccess {
    return { ...this.natsAccess };
  }

  /**
   * Every stream, KV bucket and the Object Store, plus the given consumers: for tests and tools on a server
   * without users. Services set up only their own with `setUp`, since their NATS users may create nothing else.
   */
  async provision(consumers: readonly ConsumerSpec[] = []): Promise<void> {
    await ensureStreams(this.jsm);
    await ensureConsumers(this.jsm, consumers);
    for (const spec of Object.values(BUCKET_SPECS)) await this.ensureBucket(spec);
    await this.ensureObjectStore(OBJECT_STORE);
    this.provisioned = true;
  }

  /**
   * Sets up what one service needs: creates (or brings to spec) what it owns, waits until what it uses
   * exists (another service creates it; services start in any order), then creates its durable consumers.
   * A refusal by the server is thrown as a ProvisionError naming the operation; waiting is logged.
   */
  async setUp(resources: ServiceResources, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const { owns = {}, uses = {}, consumers = [] } = resources;
    await ensureStreams(this.jsm, owns.streams ?? []);
    for (const spec of owns.buckets ?? []) await this.ensureBucket(spec);
    for (const name of owns.objectStores ?? []) await this.ensureObjectStore(name);
    const owned = new Set((owns.streams ?? []).map((s) => s.name));
    const needed = new Set([
      ...(uses.streams ?? []),
      ...(uses.buckets ?? []).map((b) => `KV_${b}`),
      ...(uses.objectStores ?? []).map((o) => `OBJ_${o}`),
      ...consumers.map((c) => c.stream).filter((s) => !owned.has(s)),
    ]);
    await awaitStreams(this.jsm, [...needed], { log: this.log, ...(opts.signal ? { signal: opts.signal } : {}) });
    await ensureConsumers(this.jsm, consumers);
    this.provisioned = true;
  }

  /** Creates a KV bucket with its spec, or opens it as it is (idempotent). */
  async ensureBucket(spec: BucketSpec): Promise<void> {
    await this.ensureKv(spec.name, {
      history: spec.history,
      ...(spec.ttlSec !== undefined ? { ttl: spec.ttlSec * 1000 } : {}),
    });
  }

  /** Creates an Object Store, or opens it as it is (idempotent). */
  async ensureObjectStore(name: string): Promise<void> {
    try {
      await new Objm(this.nc).create(name);
    } catch (err) {
      throw provisionFailure(`object store '${name}'`, err);
    }
  }

  /** The largest message body the server accepts, in bytes (its `max_payload`, less room for headers). */
  maxPayload(): number {
    return (this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - HEADER_ROOM;
  }

  /** JSON bytes of `payload`; a PayloadTooLargeError (a poison message, never retried) when the server would refuse them. */
  private encodeBounded(subject: string, payload: unknown): Uint8Array {
    const data = TEXT.encode(JSON.stringify(payload));
    if (data.length > this.maxPayload())
      throw new PayloadTooLargeError(`a message on '${subject}'`, data.length, this.maxPayload());
    return data;
  }

  /** Creates a KV bucket this service owns, or opens it as it is (idempotent). */
  async ensureKv(bucket: string, opts: Partial<KvOptions> = {}): Promise<void> {
    try {
      await new Kvm(this.nc).create(bucket, opts);
    } catch (err) {
      throw provisionFailure(`KV bucket '${bucket}'`, err);
    }
  }

  /** True while connected and provisioned: what `/readyz` reports. */
  isReady(): boolean {
    return this.provisioned && !this.nc.isClosed() && this.nc.getServer() !== "";
  }

  /**
   * Validates and publishes to JetStream. With `msgId`, a second publish of the
   * same id inside the stream's duplicate window is dropped by the server.
   */
  async publish<S extends z.ZodType>(
    subject: string,
    schema: S,
    payload: z.input<S>,
    msgId?: string,
  ): Promise<{ seq: number; duplicate: boolean }> {
    const data = this.encodeBounded(subject, schema.parse(payload));
    const ack = await this.js.publish(subject, data, msgId ? { msgID: msgId } : undefined);
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  /** Publishes an already-serialised message (an outbox entry), deduplicated by `msgId`. */
  async publishRaw(subject: string, payload: unknown, msgId: string): Promise<void> {
    await this.js.publish(subject, this.encodeBounded(subject, payload), { msgID: msgId });
  }

  /** Publishes a task event on its subject, with its eventId as msgID. */
  async emit(event: TaskEvent): Promise<void> {
    await this.publish(
      SUBJECTS.event(event as TaskEvent & { stepId?: string; jobId?: string }),
      TaskEventSchema,
      event,
      event.eventId,
    );
  }

  /** The last event stored on an exact subject, or null. Used to re-attach after a crash. */
  async lastEvent(subject: string): Promise<TaskEvent | null> {
    const m = await this.jsm.streams.getMessage(STREAMS.events.name, { last_by_subj: subject });
    if (!m) return null;
    return decode(subject, m.data, TaskEventSchema);
  }

  /**
   * Waits for an event on an exact subject: the last one stored there as soon as there is one, or null
   * once `timeoutMs` passed or `signal` aborted (see `waitForLastEvent`). Creates no consumer.
   */
  async waitForEvent(
    subject: string,
    opts: { timeoutMs: number; pollMs?: number; signal?: AbortSignal },
  ): Promise<TaskEvent | null> {
    return waitForLastEvent({ nc: this.nc, log: this.log, lastEvent: (s) => this.lastEvent(s) }, subject, opts);
  }

  /**
   * Pulls from a durable consumer. Each payload is validated; an invalid one is
   * logged and terminated (never retried, never blocking the queue). A handler that
   * throws gets the message redelivered with backoff; one that throws a
   * PoisonMessageError gets it terminated. With `deadLetter`, both are kept with
   * their reason instead of dropped, and a message that keeps failing is set aside
   * after a few deliveries (see ConsumeOptions).
   */
  async consume<S extends z.ZodType>(
    spec: ConsumerSpec,
    schema: S,
    handler: Handler<z.output<S>>,
    opts: ConsumeOptions = {},
  ): Promise<Consumption> {
    const running = await consumeDurable(
      { nc: this.nc, js: this.js, log: this.log, maxPayload: () => this.maxPayload(), decode },
      spec,
      schema,
      handler,
      opts,
    );
    const consumption: Consumption = {
      stop: async () => {
        await running.stop();
        this.consumptions.delete(consumption);
      },
    };
    this.consumptions.add(consumption);
    return consumption;
  }

  /**
   * Answers requests on `subject` (queue group = subject, so replicas share the load). Resolves once the
   * server has the subscription, so a service that says it is ready never misses the first request.
   */
  async serve<Q extends z.ZodType, R extends z.ZodType>(
    subject: string,
    requestSchema: Q,
    replySchema: R,
    handler: (req: z.output<Q>) => Promise<z.input<R>>,
    onInvalid: (err: InvalidMessageError) => z.input<R>,
  ): Promise<void> {
    const sub = this.nc.subscribe(subject, {
      queue: subject,
      callback: (err, msg) => {
        if (err) {
          this.log.error({ err, subject }, "subscription error");
          return;
        }
        void (async () => {
          let reply: z.input<R>;
          try {
            reply = await handler(decode(subject, msg.data, requestSchema));
          } catch (e) {
            if (!(e instanceof InvalidMessageError)) throw e;
            this.log.warn({ err: e }, "invalid request");
            reply = onInvalid(e);
          }
          msg.respond(TEXT.encode(JSON.stringify(replySchema.parse(reply))));
        })().catch((e: unknown) => this.log.error({ err: e, subject }, "request handler failed"));
      },
    });
    this.subs.add(sub);
    // SUB travels on this connection; a request from another connection can reach the server first.
    await this.nc.flush();
  }

  /** Sends a validated request and validates the reply. */
  async request<Q extends z.ZodType, R extends z.ZodType>(
    subject: string,
    requestSchema: Q,
    replySchema: R,
    payload: z.input<Q>,
    timeoutMs = 3000,
  ): Promise<z.output<R>> {
    const m = await this.nc.request(subject, TEXT.encode(JSON.stringify(requestSchema.parse(payload))), { timeout: timeoutMs });
    return decode(subject, m.data, replySchema);
  }

  async rawKv(bucket: string): Promise<KV> {
    return new Kvm(this.nc).open(bucket);
  }

  async kv<S extends z.ZodType>(bucket: string, schema: S): Promise<TypedKv<S>> {
    return new TypedKv(await this.rawKv(bucket), schema, { bucket, maxBytes: () => this.maxPayload() });
  }

  /**
   * The bucket when it exists, or null when its owner has not created it yet (a read-only reader, e.g. the
   * gateway showing runners before any runner started). Any other failure (a refusal, a timeout) is thrown.
   */
  async kvIfExists<S extends z.ZodType>(bucket: string, schema: S): Promise<TypedKv<S> | null> {
    if (!(await streamInfoOrNull(this.jsm, `KV_${bucket}`))) return null;
    return this.kv(bucket, schema);
  }

  async objects(): Promise<ObjectStore> {
    return new Objm(this.nc).open(OBJECT_STORE);
  }

  /** Stops every consumer (waiting for messages in hand), then drains the connection. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.consumptions].map((c) => c.stop()));
    for (const s of this.subs) s.unsubscribe();
    if (!this.nc.isClosed())
      await this.nc.drain().catch((err: unknown) => this.log.warn({ err }, "NATS connection did not drain cleanly"));
  }
}

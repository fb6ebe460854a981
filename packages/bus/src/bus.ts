import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ObjectStore } from "@nats-io/obj";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { z } from "zod";
import { decode, encodeBounded } from "./codec.js";
import { type BusOptions, connectNats, type NatsAccess } from "./connection.js";
import { type ConsumeOptions, type Consumption, consumeDurable, type Handler } from "./consume.js";
import type { InvalidMessageError } from "./errors.js";
import { openTypedKv, type TypedKv } from "./kv.js";
import { type ObjectRead, openObjectStore, readObject } from "./object-reader.js";
import { DEFAULT_REPLICAS, ensureBucket, ensureObjectStore, setUpResources, streamInfoOrNull } from "./provision.js";
import { requestReply, subscribeServer } from "./request-reply.js";
import type { BucketSpec, ConsumerSpec, ObjectStoreSpec, ServiceResources } from "./specs.js";
import { deleteStoredMessage, type StoredMessage, storedMessage } from "./stored-messages.js";
import { consumingSync, tracedPublish } from "./tracing.js";
import { type WaitOptions, waitForLast } from "./wait-last.js";

/** nats-server's default `max_payload` (1 MiB), used until the server says otherwise. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Room kept for headers (msgID, KV's expected revision) when a body is checked against `max_payload`. */
const HEADER_ROOM = 4096;

/** The client objects behind a Bus: for tests that must speak raw NATS (see `@mllead/bus/testing`). */
export interface RawNats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

const RAW = new WeakMap<Bus, RawNats>();

/** The raw client objects of a Bus. Exported only through `@mllead/bus/testing`. */
export function rawNatsOf(bus: Bus): RawNats {
  return RAW.get(bus) as RawNats;
}

/** A plain (core NATS) subscription made with `Bus.subscribe`. */
export interface BusSubscription {
  unsubscribe(): void;
}

/** A stream's counts: messages it holds now, and the sequence of the last one it stored. */
export interface StreamState {
  messages: number;
  lastSeq: number;
}

/** A durable consumer's counts: messages not yet delivered, and delivered but not yet acknowledged. */
export interface ConsumerState {
  pending: number;
  ackPending: number;
}

/**
 * The one door to NATS for a service: a generic, typed layer over core NATS, JetStream, KV and the Object Store.
 * It knows no subject, stream or bucket of its own: every name and schema is the caller's. Payloads are JSON
 * checked by zod on the way in and out; NATS errors are told apart by their codes.
 */
export class Bus {
  private readonly consumptions = new Set<Consumption>();
  private readonly subs = new Set<Subscription>();
  private provisioned = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
    private readonly natsAccess: NatsAccess,
    private readonly replicas: number,
  ) {
    RAW.set(this, { nc, js, jsm });
  }

  /** Connects (as the given credentials' user, or anonymously) and checks that JetStream answers. */
  static async connect(opts: BusOptions): Promise<Bus> {
    const nc = await connectNats(opts);
    const jsm = await jetstreamManager(nc);
    const { url, credentials, inboxPrefix } = opts;
    const access = { url, ...(credentials ? { credentials } : {}), ...(inboxPrefix ? { inboxPrefix } : {}) };
    // Checked once above: opening a bucket later asks no account info of a cluster's (maybe re-electing) meta leader.
    return new Bus(nc, jetstream(nc, { checkAPI: false }), jsm, opts.log, access, opts.replicas ?? DEFAULT_REPLICAS);
  }

  /** Where and as whom this bus connected: what a second connection of the same service (a worker thread) needs. */
  access(): NatsAccess {
    return { ...this.natsAccess };
  }

  /**
   * Sets up what one service needs: creates (or brings to spec) what it owns, waits until what it uses
   * exists (another service creates it; services start in any order), then creates its durable consumers.
   * A refusal by the server is thrown as a ProvisionError naming the operation; waiting is logged.
   */
  async setUp(resources: ServiceResources, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await setUpResources({ nc: this.nc, jsm: this.jsm }, resources, {
      log: this.log,
      replicas: this.replicas,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    this.provisioned = true;
  }

  /** Creates a KV bucket with its spec, or opens it (idempotent); either way with the bus's replica count. */
  async ensureBucket(spec: BucketSpec): Promise<void> {
    await ensureBucket({ nc: this.nc, jsm: this.jsm }, spec, this.replicas);
  }

  /** Creates an Object Store with its spec, or opens it (idempotent); either way with the bus's replica count. */
  async ensureObjectStore(spec: ObjectStoreSpec): Promise<void> {
    await ensureObjectStore({ nc: this.nc, jsm: this.jsm }, spec, this.replicas);
  }

  /** The largest message body the server accepts, in bytes (its `max_payload`, less room for headers). */
  maxPayload(): number {
    return (this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - HEADER_ROOM;
  }

  /** True while connected and set up: what `/readyz` reports. */
  isReady(): boolean {
    return this.provisioned && !this.nc.isClosed() && this.nc.getServer() !== "";
  }

  /**
   * Validates and publishes to JetStream, resolving once the stream has it. With `msgId`, a second publish of
   * the same id inside the stream's duplicate window is dropped by the server (`duplicate: true`).
   */
  async publish<S extends z.ZodType>(
    subject: string,
    schema: S,
    payload: z.input<S>,
    msgId?: string,
    opts: { timeoutMs?: number } = {},
  ): Promise<{ seq: number; duplicate: boolean }> {
    const data = encodeBounded(subject, schema.parse(payload), this.maxPayload());
    const ack = await tracedPublish(this.js, subject, data, { msgId, timeoutMs: opts.timeoutMs });
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  /** Publishes an already-checked message (an outbox entry) to JetStream, deduplicated by `msgId`. */
  async publishRaw(subject: string, payload: unknown, msgId: string): Promise<void> {
    await tracedPublish(this.js, subject, encodeBounded(subject, payload, this.maxPayload()), { msgId });
  }

  /**
   * The last message `stream` holds on the exact `subject`, validated, or null when it holds none there.
   * Any other failure (a refusal, a timeout) is thrown; one that does not parse is an InvalidMessageError.
   */
  async lastMessage<S extends z.ZodType>(stream: string, subject: string, schema: S): Promise<z.output<S> | null> {
    // nats.js answers null for "no message found" (JetStreamApiCodes.NoMessageFound) and throws anything else.
    const m = await this.jsm.streams.getMessage(stream, { last_by_subj: subject });
    return m ? decode(subject, m.data, schema) : null;
  }

  /**
   * Waits for a message on an exact subject of `stream`: the last one stored there as soon as there is one,
   * or null once `timeoutMs` passed or `signal` aborted. Creates no consumer (a plain subscription wakes it).
   */
  async waitForLast<S extends z.ZodType>(
    stream: string,
    subject: string,
    schema: S,
    opts: WaitOptions,
  ): Promise<z.output<S> | null> {
    const deps = { nc: this.nc, log: this.log, last: (s: string) => this.lastMessage(stream, s, schema) };
    return waitForLast(deps, subject, opts);
  }

  /**
   * A plain (core NATS) subscription: `onMessage` sees every message on `subject` (wildcards allowed), JetStream
   * publishes included, with no consumer and no replay. Resolves once the server has it; `close` ends it.
   */
  async subscribe(subject: string, onMessage: (m: { subject: string; data: Uint8Array }) => void): Promise<BusSubscription> {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) this.log.error({ err, subject }, "subscription error");
        else consumingSync(msg, () => onMessage({ subject: msg.subject, data: msg.data }));
      },
    });
    this.subs.add(sub);
    await this.nc.flush();
    return {
      unsubscribe: () => {
        this.subs.delete(sub);
        sub.unsubscribe();
      },
    };
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
    const deps = { nc: this.nc, js: this.js, log: this.log, maxPayload: () => this.maxPayload() };
    const running = await consumeDurable(deps, spec, schema, handler, opts);
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
    const sub = subscribeServer(this.nc, this.log, { subject, requestSchema, replySchema, handler, onInvalid });
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
    return requestReply(this.nc, subject, { request: requestSchema, reply: replySchema }, payload, timeoutMs);
  }

  /** Opens a KV bucket whose values are JSON checked by `schema` (see TypedKv). */
  async kv<S extends z.ZodType>(bucket: string, schema: S): Promise<TypedKv<S>> {
    return openTypedKv({ js: this.js, jsm: this.jsm }, bucket, schema, () => this.maxPayload());
  }

  /**
   * The bucket when it exists, or null when its owner has not created it yet (a read-only reader, e.g. the
   * gateway showing runners before any runner started). Any other failure (a refusal, a timeout) is thrown.
   */
  async kvIfExists<S extends z.ZodType>(bucket: string, schema: S): Promise<TypedKv<S> | null> {
    if (!(await streamInfoOrNull(this.jsm, `KV_${bucket}`))) return null;
    return this.kv(bucket, schema);
  }

  /** Opens an Object Store (it must exist: its owner creates it). */
  async objectStore(name: string): Promise<ObjectStore> {
    return openObjectStore({ js: this.js, jsm: this.jsm }, name);
  }

  /** `name` in the Object Store `store`, streamed chunk by chunk as read (never whole in memory); null when absent. */
  async readObject(store: string, name: string): Promise<ObjectRead | null> {
    return readObject(this.jsm, store, name);
  }

  /** A stream's counts (throws a JetStream error when there is no such stream). */
  async streamState(stream: string): Promise<StreamState> {
    const { state } = await this.jsm.streams.info(stream);
    return { messages: state.messages, lastSeq: state.last_seq };
  }

  /** The message stored at `seq` in `stream`, or null when none is there (never stored, deleted or aged out). */
  streamMessage(stream: string, seq: number): Promise<StoredMessage | null> {
    return storedMessage(this.jsm, stream, seq);
  }

  /** Removes the message at `seq` from `stream`; false when none is there. */
  deleteStreamMessage(stream: string, seq: number): Promise<boolean> {
    return deleteStoredMessage(this.jsm, stream, seq);
  }

  /** A durable consumer's counts (throws a JetStream error when there is no such consumer). */
  async consumerState(stream: string, durable: string): Promise<ConsumerState> {
    const info = await this.jsm.consumers.info(stream, durable);
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  /** Stops every consumer (waiting for messages in hand), then drains the connection. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.consumptions].map((c) => c.stop()));
    for (const s of this.subs) s.unsubscribe();
    if (!this.nc.isClosed())
      await this.nc.drain().catch((err: unknown) => this.log.warn({ err }, "NATS connection did not drain cleanly"));
  }
}

import {
  BUCKETS,
  type ConsumerSpec,
  OBJECT_STORE,
  STREAMS,
  SUBJECTS,
  type TaskEvent,
  TaskEvent as TaskEventSchema,
} from "@mllead/contracts";
import { type JetStreamClient, type JetStreamManager, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { z } from "zod";
import { connectNats } from "./connection.js";
import { InvalidMessageError, PoisonMessageError } from "./errors.js";
import { TypedKv } from "./kv.js";
import { ensureConsumers, ensureStreams } from "./provision.js";

/** What a consume handler is given besides the validated payload. */
export interface MessageContext {
  subject: string;
  /** 1 on first delivery; higher on redelivery after a crash, timeout or nak. */
  deliveryCount: number;
  msgId: string | undefined;
  log: Logger;
  /** Tells JetStream the handler is still busy (resets the ack timer); called automatically too. */
  working(): void;
}

export type Handler<T> = (payload: T, ctx: MessageContext) => Promise<void>;

export interface ConsumeOptions {
  /** Messages handled at once by this process. Default 1 (in order). */
  concurrency?: number;
  /** Delay before a failed message is redelivered, by delivery count. Default: 1s, 2s, 4s … 30s. */
  backoffMs?: (deliveryCount: number) => number;
}

/** A running consumer. `stop()` takes no new messages and waits for those in hand. */
export interface Consumption {
  stop(): Promise<void>;
}

const TEXT = new TextEncoder();

function formatIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}

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
  ) {}

  static async connect(opts: { url: string; name: string; log: Logger }): Promise<Bus> {
    const nc = await connectNats(opts);
    const jsm = await jetstreamManager(nc);
    return new Bus(nc, jetstream(nc), jsm, opts.log);
  }

  /** Streams, KV buckets and the Object Store everyone uses, plus the consumers this service reads. */
  async provision(consumers: readonly ConsumerSpec[] = []): Promise<void> {
    await ensureStreams(this.jsm);
    await ensureConsumers(this.jsm, consumers);
    const kvm = new Kvm(this.nc);
    await kvm.create(BUCKETS.tasks, { history: 5 });
    await kvm.create(BUCKETS.slack, { history: 1, ttl: 30 * 24 * 3600 * 1000 });
    await kvm.create(BUCKETS.jobs, { history: 3 });
    await kvm.create(BUCKETS.runners, { history: 1, ttl: 60_000 });
    await new Objm(this.nc).create(OBJECT_STORE);
    this.provisioned = true;
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
    const valid = schema.parse(payload);
    const ack = await this.js.publish(subject, TEXT.encode(JSON.stringify(valid)), msgId ? { msgID: msgId } : undefined);
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  /** Publishes an already-serialised message (an outbox entry), deduplicated by `msgId`. */
  async publishRaw(subject: string, payload: unknown, msgId: string): Promise<void> {
    await this.js.publish(subject, TEXT.encode(JSON.stringify(payload)), { msgID: msgId });
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
   * Pulls from a durable consumer. Each payload is validated; an invalid one is
   * logged and terminated (never retried, never blocking the queue). A handler that
   * throws gets the message redelivered with backoff; one that throws a
   * PoisonMessageError gets it terminated.
   */
  async consume<S extends z.ZodType>(
    spec: ConsumerSpec,
    schema: S,
    handler: Handler<z.output<S>>,
    opts: ConsumeOptions = {},
  ): Promise<Consumption> {
    const concurrency = opts.concurrency ?? 1;
    const backoff = opts.backoffMs ?? ((n: number) => Math.min(30_000, 1000 * 2 ** Math.max(0, n - 1)));
    const consumer = await this.js.consumers.get(spec.stream, spec.durable);
    let messages = await consumer.consume({ max_messages: concurrency });
    const inFlight = new Set<Promise<void>>();
    let stopping = false;
    const log = this.log.child({ consumer: spec.durable });

    const handle = async (m: JsMsg): Promise<void> => {
      const ctxLog = log.child({ subject: m.subject, seq: m.seq, delivery: m.info.deliveryCount });
      const heartbeat = setInterval(() => m.working(), Math.max(1000, (spec.ackWaitSec * 1000) / 3));
      try {
        const payload = decode(m.subject, m.data, schema);
        await handler(payload, {
          subject: m.subject,
          deliveryCount: m.info.deliveryCount,
          msgId: m.headers?.get("Nats-Msg-Id") || undefined,
          log: ctxLog,
          working: () => m.working(),
        });
        await m.ackAck().catch((err: unknown) => ctxLog.warn({ err }, "ack was not confirmed; the message may be redelivered"));
      } catch (err) {
        if (err instanceof PoisonMessageError) {
          ctxLog.error({ err, code: err.code }, "dropping a message that can never be handled");
          // No reason text: nats-server 2.9 does not understand `+TERM <reason>`.
          m.term();
        } else {
          const delay = backoff(m.info.deliveryCount);
          ctxLog.error({ err, retryInMs: delay }, "handler failed; message will be redelivered");
          m.nak(delay);
        }
      } finally {
        clearInterval(heartbeat);
      }
    };

    const loop = (async () => {
      for (;;) {
        try {
          for await (const m of messages) {
            if (stopping) {
              m.nak();
              continue;
            }
            const p = handle(m).finally(() => inFlight.delete(p));
            inFlight.add(p);
            if (inFlight.size >= concurrency) await Promise.race(inFlight);
          }
        } catch (err) {
          log.error({ err }, "consumer failed");
        }
        if (stopping || this.nc.isClosed()) return;
        // The pull ended without a stop (consumer deleted, a server error): pull again rather than go deaf.
        log.error("consumer stopped delivering; subscribing again in 1 s");
        await new Promise((r) => setTimeout(r, 1000));
        if (stopping) return;
        try {
          messages = await (await this.js.consumers.get(spec.stream, spec.durable)).consume({ max_messages: concurrency });
        } catch (err) {
          log.error({ err }, "could not subscribe again; retrying");
        }
      }
    })();

    const consumption: Consumption = {
      stop: async () => {
        stopping = true;
        await messages.close().catch(() => undefined);
        await Promise.allSettled([...inFlight]);
        await loop.catch(() => undefined);
        this.consumptions.delete(consumption);
      },
    };
    this.consumptions.add(consumption);
    return consumption;
  }

  /** Answers requests on `subject` (queue group = subject, so replicas share the load). */
  serve<Q extends z.ZodType, R extends z.ZodType>(
    subject: string,
    requestSchema: Q,
    replySchema: R,
    handler: (req: z.output<Q>) => Promise<z.input<R>>,
    onInvalid: (err: InvalidMessageError) => z.input<R>,
  ): void {
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
    return new TypedKv(await this.rawKv(bucket), schema);
  }

  async objects(): Promise<ObjectStore> {
    return new Objm(this.nc).open(OBJECT_STORE);
  }

  /** Stops every consumer (waiting for messages in hand), then drains the connection. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.consumptions].map((c) => c.stop()));
    for (const s of this.subs) s.unsubscribe();
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
  }
}

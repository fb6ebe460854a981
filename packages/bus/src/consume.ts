import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { z } from "zod";
import { decode } from "./codec.js";
import { PoisonMessageError } from "./errors.js";
import { type DeadLetterOptions, describeSetAside, keepSetAside } from "./set-aside.js";
import type { ConsumerSpec } from "./specs.js";
import { consuming, markFailed } from "./tracing.js";

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
  /**
   * Messages handled at once by this process. Default 1 (in order). Above 1, messages are
   * handed out in stream order but finish in any order: a handler that needs per-key order
   * (one task's events) serialises by key itself. The consumer's `maxAckPending` must allow it.
   */
  concurrency?: number;
  /** Delay before a failed message is redelivered, by delivery count. Default: 1s, 2s, 4s … 30s. */
  backoffMs?: (deliveryCount: number) => number;
  /**
   * Set aside what cannot be handled instead of retrying it until `maxDeliver` (and stalling
   * whatever waits behind it): an invalid or poison message at once, one that keeps failing
   * after `maxDeliveries`. Without it, invalid messages are terminated and failures retried.
   */
  deadLetter?: DeadLetterOptions;
}

/** A running consumer. `stop()` takes no new messages and waits for those in hand. */
export interface Consumption {
  stop(): Promise<void>;
}

/** What `consumeDurable` needs from the Bus. */
export interface ConsumeDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  log: Logger;
  maxPayload(): number;
}

const defaultBackoff = (n: number) => Math.min(30_000, 1000 * 2 ** Math.max(0, n - 1));

/** One consumer's handling of its messages: decode, hand to the handler, ack, retry or set aside. */
class MessageHandling<S extends z.ZodType> {
  private readonly maxDeliveries: number;
  private readonly backoff: (deliveryCount: number) => number;

  constructor(
    private readonly deps: ConsumeDeps,
    private readonly spec: ConsumerSpec,
    private readonly schema: S,
    private readonly handler: Handler<z.output<S>>,
    private readonly dead: DeadLetterOptions | undefined,
    backoff: ((deliveryCount: number) => number) | undefined,
    readonly log: Logger,
  ) {
    this.maxDeliveries = Math.min(dead?.maxDeliveries ?? 5, spec.maxDeliver);
    this.backoff = backoff ?? defaultBackoff;
  }

  /** Handles one message to its end: acked, terminated, set aside or handed back for redelivery. */
  async handle(m: JsMsg): Promise<void> {
    const ctxLog = this.log.child({ subject: m.subject, seq: m.seq, delivery: m.info.deliveryCount });
    const heartbeat = setInterval(() => m.working(), Math.max(1000, (this.spec.ackWaitSec * 1000) / 3));
    const msgId = m.headers?.get("Nats-Msg-Id") || undefined;
    const { stream, durable } = this.spec;
    // Not `...m`: a JsMsg's subject, headers and data are getters, which a spread does not copy.
    const { subject, headers, data, seq: streamSeq } = m;
    const received = { subject, headers, data, msgId, stream, durable, streamSeq, deliveryCount: m.info.deliveryCount };
    // One consumer span per delivery, child of the publisher's span; what the handler publishes is its child.
    await consuming(received, "process", async (span) => {
      // With tracing on, the handler's lines name the trace, so a log search and a trace view meet.
      const log = span.isRecording() ? ctxLog.child({ traceId: span.spanContext().traceId }) : ctxLog;
      try {
        const payload = decode(m.subject, m.data, this.schema);
        await this.handler(payload, {
          subject: m.subject,
          deliveryCount: m.info.deliveryCount,
          msgId,
          log,
          working: () => m.working(),
        });
        await m.ackAck().catch((err: unknown) => log.warn({ err }, "ack was not confirmed; the message may be redelivered"));
      } catch (err) {
        markFailed(span, err);
        await this.failed(m, err, log);
      } finally {
        clearInterval(heartbeat);
      }
    });
  }

  /** A message whose handling threw: set aside, terminated (poison) or handed back with backoff. */
  private async failed(m: JsMsg, err: unknown, ctxLog: Logger): Promise<void> {
    const poison = err instanceof PoisonMessageError;
    if (this.dead && (poison || m.info.deliveryCount >= this.maxDeliveries)) {
      if (await this.setAside(this.dead, m, err, ctxLog)) return;
      // Not kept (NATS trouble): retried below rather than lost.
    } else if (poison) {
      ctxLog.error({ err, code: err.code }, "dropping a message that can never be handled");
      m.term();
      return;
    }
    const delay = this.backoff(m.info.deliveryCount);
    const last = m.info.deliveryCount >= this.spec.maxDeliver;
    ctxLog.error(
      { err, retryInMs: delay },
      last
        ? "handler failed on the last delivery; JetStream will not redeliver it"
        : "handler failed; message will be redelivered",
    );
    m.nak(delay);
  }

  /** Keeps the message with its reason, terminates it, and tells `onSetAside`. False when it could not be kept. */
  private async setAside(dead: DeadLetterOptions, m: JsMsg, err: unknown, ctxLog: Logger): Promise<boolean> {
    const letter = describeSetAside(m, err, this.spec.durable);
    try {
      await keepSetAside(this.deps.js, dead.subject, letter, this.deps.maxPayload());
    } catch (keepErr) {
      ctxLog.error({ err: keepErr }, "could not set the message aside; it will be redelivered");
      return false;
    }
    // No reason text on the term: nats-server 2.9 does not understand `+TERM <reason>`; the kept copy has it.
    m.term();
    const deliveries = letter.deliveries === 1 ? "1 delivery" : `${letter.deliveries} deliveries`;
    ctxLog.error(
      { err, code: letter.code, deliveries: letter.deliveries, deadLetter: dead.subject },
      `set a message aside after ${deliveries}: ${letter.reason}`,
    );
    await dead.onSetAside?.(letter, ctxLog).catch((tellErr: unknown) => {
      ctxLog.error({ err: tellErr }, "a message was set aside, but telling its thread failed");
    });
    return true;
  }
}

/** Pulls from a durable consumer (see `Bus.consume`). */
export async function consumeDurable<S extends z.ZodType>(
  deps: ConsumeDeps,
  spec: ConsumerSpec,
  schema: S,
  handler: Handler<z.output<S>>,
  opts: ConsumeOptions = {},
): Promise<Consumption> {
  const { js, nc } = deps;
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const log = deps.log.child({ consumer: spec.durable });
  const handling = new MessageHandling(deps, spec, schema, handler, opts.deadLetter, opts.backoffMs, log);
  const pull = async (): Promise<ConsumerMessages> =>
    (await js.consumers.get(spec.stream, spec.durable)).consume({ max_messages: concurrency });
  let messages = await pull();
  const inFlight = new Set<Promise<void>>();
  let stopping = false;

  const loop = (async () => {
    for (;;) {
      try {
        for await (const m of messages) {
          if (stopping) {
            m.nak();
            continue;
          }
          const p = handling.handle(m).finally(() => inFlight.delete(p));
          inFlight.add(p);
          if (inFlight.size >= concurrency) await Promise.race(inFlight);
        }
      } catch (err) {
        log.error({ err }, "consumer failed");
      }
      if (stopping || nc.isClosed()) return;
      // The pull ended without a stop (consumer deleted, a server error): pull again rather than go deaf.
      log.error("consumer stopped delivering; subscribing again in 1 s");
      await new Promise((r) => setTimeout(r, 1000));
      if (stopping) return;
      try {
        messages = await pull();
      } catch (err) {
        log.error({ err }, "could not subscribe again; retrying");
      }
    }
  })();

  return {
    stop: async () => {
      stopping = true;
      // Best effort: a pull that already ended (connection closing) has nothing left to close.
      await messages.close().catch((err: unknown) => log.debug({ err }, "the pull was already closed"));
      await Promise.allSettled([...inFlight]);
      await loop;
    },
  };
}

import { createHmac, timingSafeEqual } from "node:crypto";
import type { Bus, ConsumerSpec, Consumption, MessageContext, StreamSpec } from "@mllead/bus";
import { decode } from "@mllead/bus";
import { KeyedQueue } from "@mllead/service-kit";
import { z } from "zod";
import { EventEnvelope } from "./slack-events.js";
import { Oversized } from "./slack-input.js";

/**
 * The gateway's own inbox: every Events API delivery is stored here before Slack gets its 200,
 * and Bolt's listeners run from here, off the path of the ack. Only the gateway reads or writes it,
 * so it is declared and provisioned here rather than in contracts.
 */
export const INBOX_STREAM = {
  name: "MLLEAD_SLACK_IN",
  subjects: ["mllead.slack.in.>"],
  retention: "workqueue",
  maxAgeSec: 24 * 3600,
  // Slack retries a delivery after ~0 s, 1 min and 5 min; an hour covers every retry of one event_id.
  duplicateWindowSec: 3600,
} as const satisfies StreamSpec;

export const INBOX_SUBJECT = "mllead.slack.in.event";

/** How many inbox events the gateway handles at once (events of one channel still run in order). */
export const INBOX_CONCURRENCY = 16;

export const INBOX_CONSUMER = {
  stream: INBOX_STREAM.name,
  durable: "slack-gateway-inbox",
  filterSubject: "mllead.slack.in.>",
  ackWaitSec: 30,
  maxDeliver: 10,
  maxAckPending: INBOX_CONCURRENCY,
} as const satisfies ConsumerSpec;

/** One stored Events API delivery: the checked envelope plus what the HTTP request said about it. */
export const InboxMessage = z.object({
  v: z.literal(1),
  envelope: EventEnvelope,
  receivedAt: z.iso.datetime(),
  retryNum: z.number().int().nonnegative().optional(),
  retryReason: z.string().max(64).optional(),
  /** Set when the event's text was longer than mllead takes; `envelope.event.text` holds the trimmed text. */
  oversized: Oversized.optional(),
});
export type InboxMessage = z.infer<typeof InboxMessage>;

const TEXT = new TextEncoder();

/**
 * Seals the gateway's inbox entries. Slack's signature is checked when a request arrives; whatever is
 * stored for the listeners carries an HMAC keyed by the gateway's own Slack secret, so a message that
 * anyone else put on the inbox's subject (a forged mention, an "approve" from the requester) is dropped.
 */
export class InboxSeal {
  private readonly key: Buffer;

  /** The key comes from the signing secret (HTTP mode, the only one that writes the inbox), else the bot token. */
  constructor(config: { SLACK_SIGNING_SECRET?: string | undefined; SLACK_BOT_TOKEN: string }) {
    this.key = createHmac("sha256", config.SLACK_SIGNING_SECRET ?? config.SLACK_BOT_TOKEN)
      .update("mllead inbox seal v1")
      .digest();
  }

  /** The seal of `body` (hex). */
  seal(body: string): string {
    return createHmac("sha256", this.key).update(body).digest("hex");
  }

  /** True when `seal` is `body`'s (compared in constant time). */
  verify(body: string, seal: string): boolean {
    const want = Buffer.from(this.seal(body), "hex");
    const got = Buffer.from(seal, "hex");
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/** What travels on the inbox subject: a stored delivery's JSON and its seal. */
const SealedInboxMessage = z.object({ v: z.literal(1), body: z.string(), seal: z.string().regex(/^[0-9a-f]{64}$/) });

/** Creates the inbox stream and its consumer (idempotent): what the gateway's `resources` declare, for tests. */
export async function provisionInbox(bus: Bus): Promise<void> {
  await bus.setUp({ owns: { streams: [INBOX_STREAM] }, consumers: [INBOX_CONSUMER] });
}

/**
 * Stores one delivery and resolves once JetStream has it on disk. The event_id is the msgID, so
 * Slack's retries of one event are dropped by the server. Rejects after `timeoutMs` (default 2000,
 * inside Slack's 3 s) so the caller can answer 503 and let Slack retry.
 */
export async function storeInInbox(
  bus: Bus,
  seal: InboxSeal,
  msg: InboxMessage,
  timeoutMs = 2000,
): Promise<{ duplicate: boolean }> {
  const body = JSON.stringify(msg);
  const ack = await bus.publish(INBOX_SUBJECT, SealedInboxMessage, { v: 1, body, seal: seal.seal(body) }, msg.envelope.event_id, {
    timeoutMs,
  });
  return { duplicate: ack.duplicate };
}

/** The Slack channel an inbox event belongs to (else its user): events of one key are handled in arrival order. */
function orderingKey(msg: InboxMessage): string {
  const e = msg.envelope.event;
  if (e.type === "reaction_added") return e.item.type === "message" ? e.item.channel : e.user;
  return e.channel ?? e.user ?? "";
}

/**
 * Runs `handle` for every inbox event, up to INBOX_CONCURRENCY at once but one at a time per
 * channel, so a reply is never handled before the mention it answers. A handler that throws gets
 * the event redelivered with the bus's backoff (up to `maxDeliver` times).
 */
export async function consumeInbox(
  bus: Bus,
  seal: InboxSeal,
  handle: (msg: InboxMessage, ctx: MessageContext) => Promise<void>,
): Promise<Consumption> {
  const chains = new KeyedQueue();
  return bus.consume(
    INBOX_CONSUMER,
    SealedInboxMessage,
    (sealed, ctx) => {
      if (!seal.verify(sealed.body, sealed.seal)) {
        ctx.log.warn({ subject: ctx.subject }, "dropped an inbox entry the gateway did not store (its seal does not match)");
        return Promise.resolve();
      }
      const msg = decode(ctx.subject, TEXT.encode(sealed.body), InboxMessage);
      // A failed handler does not hold up the next event of its channel; the bus redelivers it.
      return chains.run(orderingKey(msg), () => handle(msg, ctx));
    },
    { concurrency: INBOX_CONCURRENCY },
  );
}

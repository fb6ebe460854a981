import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { injectTrace } from "./tracing.js";

/** A message a consumer gave up on, as it is kept in the dead-letter stream and handed to `onSetAside`. */
export interface SetAsideMessage {
  /** Where it was read: stream, durable consumer, subject and stream sequence. */
  stream: string;
  consumer: string;
  subject: string;
  streamSeq: number;
  /** Deliveries it had when it was set aside. */
  deliveries: number;
  msgId: string | undefined;
  /** The error's `code` (e.g. `invalid_message`, `payload_too_large`), or `handler_failed`. */
  code: string;
  /** Why, in a sentence (the last error's message). */
  reason: string;
  /** The message's payload as it arrived. */
  data: Uint8Array;
  /** ISO-8601 time it was set aside. */
  at: string;
}

/** Where a consumer puts what it gives up on, and who is told. */
export interface DeadLetterOptions {
  /** Subject (of a stream that keeps it) for set-aside messages, e.g. `mllead.dead.tech-lead-commands`. */
  subject: string;
  /** Deliveries after which a message that keeps failing is set aside. Default 5. */
  maxDeliveries?: number;
  /** Told after the message was kept and terminated (e.g. to say so in its Slack thread). Its errors are logged. */
  onSetAside?: (letter: SetAsideMessage, log: Logger) => Promise<void>;
}

/** Header names on a kept message. */
export const SET_ASIDE_HEADERS = {
  reason: "Mllead-Reason",
  code: "Mllead-Code",
  subject: "Mllead-Subject",
  stream: "Mllead-Stream",
  consumer: "Mllead-Consumer",
  streamSeq: "Mllead-Stream-Seq",
  deliveries: "Mllead-Deliveries",
  msgId: "Mllead-Msg-Id",
  truncated: "Mllead-Truncated-From",
} as const;

/** Header values are one line of printable text. */
function headerValue(s: string, max = 1000): string {
  return s.replace(/[\r\n]+/g, " ").slice(0, max);
}

/** Describes a failed message for the dead-letter stream. */
export function describeSetAside(m: JsMsg, err: unknown, consumer: string): SetAsideMessage {
  const e = err as { code?: unknown; message?: unknown };
  return {
    stream: m.info.stream,
    consumer,
    subject: m.subject,
    streamSeq: m.info.streamSequence,
    deliveries: m.info.deliveryCount,
    msgId: m.headers?.get("Nats-Msg-Id") || undefined,
    code: typeof e?.code === "string" ? e.code : "handler_failed",
    reason: typeof e?.message === "string" && e.message ? e.message : String(err),
    data: m.data,
    at: new Date().toISOString(),
  };
}

/**
 * Keeps a message in the dead-letter stream: its payload (cut to fit `maxPayload`) with where it
 * came from and why in headers. The msgID is its stream and sequence, so setting aside a
 * redelivered copy keeps it once.
 */
export async function keepSetAside(
  js: JetStreamClient,
  subject: string,
  letter: SetAsideMessage,
  maxPayload: number,
): Promise<void> {
  const h = headers();
  h.set(SET_ASIDE_HEADERS.reason, headerValue(letter.reason));
  h.set(SET_ASIDE_HEADERS.code, headerValue(letter.code, 100));
  h.set(SET_ASIDE_HEADERS.subject, headerValue(letter.subject, 500));
  h.set(SET_ASIDE_HEADERS.stream, letter.stream);
  h.set(SET_ASIDE_HEADERS.consumer, letter.consumer);
  h.set(SET_ASIDE_HEADERS.streamSeq, String(letter.streamSeq));
  h.set(SET_ASIDE_HEADERS.deliveries, String(letter.deliveries));
  if (letter.msgId) h.set(SET_ASIDE_HEADERS.msgId, headerValue(letter.msgId, 300));
  // Set aside inside the failed delivery's span: the kept copy names that trace (`traceparent`).
  injectTrace(h);
  // Headers count against max_payload too; 2 KiB covers the ones above with room to spare.
  const room = maxPayload - 2048;
  let data = letter.data;
  if (data.length > room) {
    h.set(SET_ASIDE_HEADERS.truncated, String(data.length));
    data = data.subarray(0, Math.max(0, room));
  }
  await js.publish(subject, data, { headers: h, msgID: `${letter.stream}.${letter.streamSeq}` });
}

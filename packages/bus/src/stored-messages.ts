import type { JetStreamManager } from "@nats-io/jetstream";
import { ApiCodes, apiErrorCode } from "./nats-errors.js";

/** One message as a stream stores it: its subject, sequence, time (ISO), headers (first value of each) and body. */
export interface StoredMessage {
  subject: string;
  seq: number;
  time: string;
  headers: Record<string, string>;
  data: Uint8Array;
}

/** The message stored at `seq` in `stream`, or null when none is there (nats.js answers null for not-found alone). */
export async function storedMessage(jsm: JetStreamManager, stream: string, seq: number): Promise<StoredMessage | null> {
  const m = await jsm.streams.getMessage(stream, { seq });
  if (!m) return null;
  const headers: Record<string, string> = {};
  for (const k of m.header?.keys() ?? []) headers[k] = m.header.get(k);
  return { subject: m.subject, seq: m.seq, time: m.time.toISOString(), headers, data: m.data };
}

/** Removes the message at `seq` from `stream`; false when none is there, any other failure thrown. */
export async function deleteStoredMessage(jsm: JetStreamManager, stream: string, seq: number): Promise<boolean> {
  try {
    return await jsm.streams.deleteMessage(stream, seq, false);
  } catch (err) {
    if (apiErrorCode(err) === ApiCodes.NoMessageFound) return false;
    throw err;
  }
}

/**
 * The subjects `stream` holds a message on that match `filter` (a NATS subject filter), from the stream's info:
 * one request (paged by nats.js when the server splits a long list), answered by the stream's leader.
 */
export async function streamSubjects(jsm: JetStreamManager, stream: string, filter: string): Promise<string[]> {
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  return Object.keys(info.state.subjects ?? {});
}

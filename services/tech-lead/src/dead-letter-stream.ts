import type { Bus, StoredMessage } from "@mllead/bus";
import { SET_ASIDE_HEADERS } from "@mllead/bus";
import { type DeadEntry, STREAMS } from "@mllead/contracts";

/**
 * MLLEAD_DEAD read and trimmed by sequence, through the bus's named stream-message methods; the tech lead owns the
 * stream and its NATS user may get and delete messages on it (nats-permissions.conf).
 */
const STREAM = STREAMS.deadLetters.name;

/** One kept message: what `list` shows, plus its payload and original msg id. */
export interface DeadLetter extends DeadEntry {
  data: Uint8Array;
  msgId?: string;
}

const intOf = (s: string | undefined): number | undefined => (s && /^\d+$/.test(s) ? Number(s) : undefined);

/** Kept message → entry. The consumer comes from the dead-letter subject when its header is missing. */
function toLetter(m: StoredMessage): DeadLetter {
  const h = m.headers;
  const data = m.data;
  const deliveries = intOf(h[SET_ASIDE_HEADERS.deliveries]);
  const truncatedFrom = intOf(h[SET_ASIDE_HEADERS.truncated]);
  const msgId = h[SET_ASIDE_HEADERS.msgId];
  return {
    seq: m.seq,
    consumer: h[SET_ASIDE_HEADERS.consumer] ?? m.subject.replace(/^mllead\.dead\./, ""),
    subject: h[SET_ASIDE_HEADERS.subject] ?? "",
    code: h[SET_ASIDE_HEADERS.code] ?? "unknown",
    reason: h[SET_ASIDE_HEADERS.reason] ?? "",
    at: m.time,
    size: data.length,
    ...(deliveries !== undefined ? { deliveries } : {}),
    ...(truncatedFrom !== undefined ? { truncatedFrom } : {}),
    ...(msgId ? { msgId } : {}),
    data,
  };
}

/** MLLEAD_DEAD by sequence, for the dead-letter desk. */
export class DeadLetterStream {
  constructor(private readonly bus: Pick<Bus, "streamMessage" | "deleteStreamMessage" | "streamState">) {}

  /** How many entries the stream holds, and the sequence of the newest one stored. */
  async state(): Promise<{ messages: number; lastSeq: number }> {
    return this.bus.streamState(STREAM);
  }

  /** The entry at `seq`, or null when there is none there. */
  async get(seq: number): Promise<DeadLetter | null> {
    const m = await this.bus.streamMessage(STREAM, seq);
    return m ? toLetter(m) : null;
  }

  /** Removes the entry at `seq`; false when there was none. */
  remove(seq: number): Promise<boolean> {
    return this.bus.deleteStreamMessage(STREAM, seq);
  }

  /**
   * Up to `limit` entries, newest first, below `before` (the newest when omitted), looking at no more than
   * `maxProbes` sequences (deleted ones leave gaps). `nextBefore` is set when older entries may remain.
   */
  async page(opts: {
    before?: number;
    limit: number;
    maxProbes?: number;
  }): Promise<{ entries: DeadLetter[]; total: number; nextBefore?: number }> {
    const { messages: total, lastSeq } = await this.state();
    const entries: DeadLetter[] = [];
    let s = Math.min(lastSeq, (opts.before ?? lastSeq + 1) - 1);
    let probes = opts.maxProbes ?? 500;
    // Without `before`, once every entry the stream holds was seen there is nothing older to look for.
    while (s >= 1 && entries.length < opts.limit && probes > 0 && !(opts.before === undefined && entries.length >= total)) {
      const letter = await this.get(s);
      if (letter) entries.push(letter);
      s -= 1;
      probes -= 1;
    }
    const more = s >= 1 && !(opts.before === undefined && entries.length >= total);
    return { entries, total, ...(more ? { nextBefore: s + 1 } : {}) };
  }
}

import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import type { z } from "zod";
import { ConflictError, InvalidRecordError, InvalidValueError, PayloadTooLargeError } from "./errors.js";
import { formatIssues } from "./issues.js";
import { isWrongLastSequence, whileTransient } from "./nats-errors.js";
import { streamSubjects } from "./stored-messages.js";

/** A KV value with the revision it was read or written at (what a compare-and-swap names). */
export interface Versioned<T> {
  value: T;
  revision: number;
}

/** How a TypedKv names its bucket and bounds its values. */
export interface TypedKvOptions {
  /** The bucket's name, for error messages. */
  bucket?: string;
  /** The largest value the server accepts, in bytes (its `max_payload` less room for headers). Unbounded when omitted. */
  maxBytes?: () => number;
  /**
   * Every key that has a message in the bucket's stream and matches `filter` (live, deleted or purged): what
   * `keys` checks one by one. The Bus lists them from the stream's subjects (see `streamSubjects`).
   */
  listSubjects: (filter: string) => Promise<string[]>;
}

const UTF8 = new TextEncoder();

/**
 * A KV bucket whose values are JSON validated by a zod schema on the way in and out.
 * Writes that must not lose a concurrent update go through `update` (compare-and-swap).
 * A value that does not parse is reported as an InvalidRecordError carrying the stored
 * text; one too large for the server (PayloadTooLargeError) or not matching the schema
 * (InvalidValueError) is refused before it is sent. A lost compare-and-swap is a
 * ConflictError (the server's wrong-last-sequence answer); every other NATS error is thrown as it is.
 */
export class TypedKv<S extends z.ZodType> {
  readonly bucket: string;

  constructor(
    private readonly kv: KV,
    readonly schema: S,
    private readonly opts: TypedKvOptions,
  ) {
    this.bucket = opts.bucket ?? "kv";
  }

  private encode(key: string, value: z.input<S>): Uint8Array {
    const parsed = this.schema.safeParse(value);
    if (!parsed.success) throw new InvalidValueError(this.bucket, key, formatIssues(parsed.error));
    const data = UTF8.encode(JSON.stringify(parsed.data));
    const limit = this.opts.maxBytes?.();
    if (limit !== undefined && data.length > limit) {
      throw new PayloadTooLargeError(`the record '${key}' in '${this.bucket}'`, data.length, limit);
    }
    return data;
  }

  private decode(e: KvEntry): z.output<S> {
    let raw: unknown;
    try {
      raw = e.json();
    } catch (err) {
      throw new InvalidRecordError(this.bucket, e.key, e.revision, "not JSON", e.string(), { cause: err });
    }
    const parsed = this.schema.safeParse(raw);
    if (!parsed.success) {
      throw new InvalidRecordError(this.bucket, e.key, e.revision, formatIssues(parsed.error), e.string());
    }
    return parsed.data;
  }

  /**
   * The value at `key`, or null when the key holds none (never written, deleted or purged). Throws
   * InvalidRecordError when the stored value does not parse, and any NATS failure as it is.
   */
  async get(key: string): Promise<Versioned<z.output<S>> | null> {
    // nats.js answers null only for "no message found"; a refusal or a timeout is thrown.
    const e = await this.kv.get(key);
    if (e?.operation !== "PUT" || e.length === 0) return null;
    return { value: this.decode(e), revision: e.revision };
  }

  /** Writes only if the key holds no value (a delete marker counts as none); returns null when it does. */
  async create(key: string, value: z.input<S>): Promise<number | null> {
    const data = this.encode(key, value);
    try {
      return await this.kv.create(key, data);
    } catch (err) {
      // The client writes over a delete marker itself; wrong-last-sequence is left only for a live value.
      if (isWrongLastSequence(err)) return null;
      throw err;
    }
  }

  /** Writes the value whatever the key holds; returns the new revision. */
  async put(key: string, value: z.input<S>): Promise<number> {
    return this.kv.put(key, this.encode(key, value));
  }

  /** Compare-and-swap: writes only if the key is still at `revision`; a ConflictError when it is not. */
  async update(key: string, value: z.input<S>, revision: number): Promise<number> {
    const data = this.encode(key, value);
    try {
      return await this.kv.update(key, data, revision);
    } catch (err) {
      if (isWrongLastSequence(err))
        throw new ConflictError(`'${key}' in '${this.bucket}' is no longer at revision ${revision}`, { cause: err });
      throw err;
    }
  }

  /**
   * Reads, applies `fn`, and writes back with compare-and-swap, retrying on a lost race.
   * `fn` returns the new value, or null to leave the key unchanged. Only a lost race is retried: any
   * other error (a value that can never be stored, a NATS failure) is thrown at once.
   */
  async mutate(
    key: string,
    fn: (current: z.output<S>) => z.input<S> | null,
    attempts = 10,
  ): Promise<Versioned<z.output<S>> | null> {
    for (let i = 0; i < attempts; i++) {
      const cur = await this.get(key);
      if (!cur) return null;
      const next = fn(cur.value);
      if (next === null) return cur;
      try {
        const revision = await this.update(key, next, cur.revision);
        return { value: this.schema.parse(next), revision };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        if (i === attempts - 1) throw new ConflictError(`gave up updating '${key}' after ${attempts} races`, { cause: err });
      }
    }
    return null;
  }

  /** Deletes the key; with `revision`, only if it is still at that revision (a ConflictError otherwise). */
  async delete(key: string, revision?: number): Promise<void> {
    try {
      await this.kv.delete(key, revision !== undefined ? { previousSeq: revision } : undefined);
    } catch (err) {
      if (isWrongLastSequence(err))
        throw new ConflictError(`'${key}' in '${this.bucket}' is no longer at revision ${revision}`, { cause: err });
      throw err;
    }
  }

  /**
   * The keys holding a value, each once, in no particular order.
   *
   * Not nats.js's `kv.keys()`: that creates an ordered push consumer, which needs the meta leader to be made and
   * lives on one node; when that node dies the listing waits a minute of missed heartbeats and, on nats-server
   * 2.9, sometimes for ever. Here the stream's subjects come from a stream info and each key is read with a
   * get: every call is a request with a deadline, asked again while a cluster elects a leader.
   */
  async keys(filter = ">"): Promise<string[]> {
    const candidates = await whileTransient(() => this.opts.listSubjects(filter));
    const live: string[] = [];
    for (const key of candidates) {
      const e = await whileTransient(() => this.kv.get(key));
      if (e?.operation === "PUT") live.push(key);
    }
    return live;
  }
}

/**
 * Opens `bucket` as a TypedKv of `schema` whose keys are listed from its stream's subjects (see `TypedKv.keys`);
 * `maxBytes` bounds a value (the server's `max_payload` less room for headers).
 */
export async function openTypedKv<S extends z.ZodType>(
  nats: { js: JetStreamClient; jsm: JetStreamManager },
  bucket: string,
  schema: S,
  maxBytes: () => number,
): Promise<TypedKv<S>> {
  const prefix = `$KV.${bucket}.`;
  return new TypedKv(await new Kvm(nats.js).open(bucket), schema, {
    bucket,
    maxBytes,
    listSubjects: async (filter) =>
      (await streamSubjects(nats.jsm, `KV_${bucket}`, prefix + filter)).map((s) => s.slice(prefix.length)),
  });
}

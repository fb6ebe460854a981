import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import type { JetStreamClient, JetStreamManager, PubAck, PurgeResponse } from "@nats-io/jetstream";
import {
  Base64UrlPaddedCodec,
  type ObjectInfo,
  type ObjectResult,
  type ObjectStore,
  type ObjectStoreMeta,
  type ObjectStorePutOpts,
  type ObjectStoreStatus,
  Objm,
} from "@nats-io/obj";
import { BusError, BusErrorCode } from "./errors.js";
import { whileTransient } from "./nats-errors.js";

/** An Object Store object opened for reading: its facts, and its bytes as a stream. */
export interface ObjectRead {
  name: string;
  /** Bytes. */
  size: number;
  /** ISO time it was stored. */
  modified: string;
  /**
   * The bytes, fetched one chunk at a time as the reader asks for them: a slow reader holds at most a few
   * chunks (128 KiB each by default) in memory, whatever the object's size. The stream fails with a BusError
   * (`object_read`) when a chunk is missing or the digest does not match.
   */
  stream: Readable;
}

const DIGEST_PREFIX = "SHA-256=";

/**
 * Opens `name` in the Object Store `bucket` (stream `OBJ_<bucket>`) for reading with back-pressure; null when
 * there is no such object (never stored, or deleted). nats.js's own `ObjectStore.get` pushes every chunk into
 * its stream as fast as the server sends them, so a slow HTTP client would make the whole object sit in memory;
 * and it reads through an ordered push consumer, which needs the meta leader to be made and lives on one node:
 * when that node dies mid-read, the read waits a minute of missed heartbeats and, on nats-server 2.9, sometimes
 * for ever. Here each chunk is a direct get (`next_by_subj`), made when the reader wants more: a request with a
 * deadline that any of the stream's replicas answers, asked again when it times out (a client reconnecting to
 * another node, a replica catching up).
 */
export async function readObject(jsm: JetStreamManager, bucket: string, name: string): Promise<ObjectRead | null> {
  const info = await objectInfo(jsm, bucket, name);
  if (!info || info.deleted) return null;
  return { name, size: info.size, modified: info.mtime, stream: chunkStream(info, jsm, bucket) };
}

/**
 * The metadata of `name` (its last record on `$O.<bucket>.M.<name in base64url>`), or null when it was never
 * stored (or is gone): a direct get, which any replica answers. A replica that is behind (a node catching up after
 * a restart) answers "none" for an object just stored, so "none" is asked again of the stream's leader, which is
 * never behind. nats.js's `ObjectStore.info` asks only the leader, so it times out while a cluster elects one.
 */
async function objectInfo(jsm: JetStreamManager, bucket: string, name: string): Promise<ObjectInfo | null> {
  const subject = metaSubject(bucket, name);
  const m = await whileTransient(() => jsm.direct.getMessage(`OBJ_${bucket}`, { last_by_subj: subject }));
  return m ? storedInfo(m) : leaderInfo(jsm, bucket, name);
}

/** The metadata of `name` as the stream's leader has it (never behind; unanswered while a leader is elected). */
async function leaderInfo(jsm: JetStreamManager, bucket: string, name: string): Promise<ObjectInfo | null> {
  const subject = metaSubject(bucket, name);
  const m = await whileTransient(() => jsm.streams.getMessage(`OBJ_${bucket}`, { last_by_subj: subject }));
  return m ? storedInfo(m) : null;
}

const metaSubject = (bucket: string, name: string) => `$O.${bucket}.M.${Base64UrlPaddedCodec.encode(name)}`;

/** The metadata as nats.js stores it (headers as a plain record, which no reader here uses); its revision is its sequence. */
function storedInfo(m: { seq: number; json<T>(): T }): ObjectInfo {
  const { headers: _headers, ...stored } = m.json<ObjectInfo>();
  return { ...stored, revision: m.seq };
}

/** Times a chunk is asked for when a replica answers that it has none (the replica may be behind), and the pause. */
const CHUNK_TRIES = 5;
const CHUNK_RETRY_MS = 250;

/**
 * The next chunk of `subject` at or after `seq`, asked again when the replica that answered has none: the object's
 * metadata said it is there, and a replica catching up after a restart does not have it yet (the next ask may reach
 * another replica, or this one caught up). Null only when every ask said none.
 */
async function chunkAt(jsm: JetStreamManager, stream: string, subject: string, seq: number) {
  for (let tryNo = 1; ; tryNo++) {
    const m = await whileTransient(() => jsm.direct.getMessage(stream, { seq, next_by_subj: subject }));
    if (m || tryNo >= CHUNK_TRIES) return m;
    await new Promise((r) => setTimeout(r, CHUNK_RETRY_MS * tryNo));
  }
}

/** The chunks' subject of the object `info` describes, and its digest without the prefix and padding. */
function readable(info: ObjectInfo, bucket: string): { subject: string; expected: string } {
  if (info.options?.link) throw readError(`'${info.name}' is a link to another object, which is not served`);
  if (!info.digest.startsWith(DIGEST_PREFIX)) throw readError(`'${info.name}' has an unknown digest type`);
  return { subject: `$O.${bucket}.C.${info.nuid}`, expected: info.digest.slice(DIGEST_PREFIX.length).replace(/=+$/, "") };
}

/**
 * The bytes of the object `first` names, one direct get per chunk, checked against its size and digest at the end.
 * When its first chunk is not there, the metadata may be an older version's (read from a replica that is behind,
 * the object replaced since): the leader's is read, and a newer version is read instead (checked against its own
 * size and digest; a size told before the read began, as `ObjectRead.size`, was the older one's).
 */
function chunkStream(first: ObjectInfo, jsm: JetStreamManager, bucket: string): Readable {
  const { name } = first;
  let info = first;
  let { subject, expected } = readable(info, bucket);
  const stream = `OBJ_${bucket}`;
  const sha = createHash("sha256");
  let nextSeq = 1;
  let chunks = 0;
  let bytes = 0;

  const firstChunkOfCurrent = async () => {
    const current = await leaderInfo(jsm, bucket, name);
    if (!current || current.deleted) throw readError(`'${name}' was deleted while it was read`);
    if (current.nuid === info.nuid) return null;
    info = current;
    ({ subject, expected } = readable(info, bucket));
    return chunkAt(jsm, stream, subject, nextSeq);
  };

  const nextChunk = async (): Promise<Uint8Array | null> => {
    if (chunks >= info.chunks) {
      const digest = sha.digest("base64url");
      if (bytes !== info.size || digest !== expected)
        throw readError(`'${name}' read back ${bytes} of ${info.size} bytes with another digest than stored`);
      return null;
    }
    const m = (await chunkAt(jsm, stream, subject, nextSeq)) ?? (chunks === 0 ? await firstChunkOfCurrent() : null);
    if (!m) throw readError(`'${name}' lacks chunk ${chunks + 1} of ${info.chunks}`);
    nextSeq = m.seq + 1;
    chunks++;
    bytes += m.data.length;
    sha.update(m.data);
    return m.data;
  };

  return new Readable({
    // One chunk at a time: read() is called again only once the consumer has taken what was pushed.
    highWaterMark: 1,
    read() {
      nextChunk().then(
        (chunk) => {
          this.push(chunk === null ? null : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        },
        (err: unknown) => this.destroy(err instanceof BusError ? err : readError(`reading '${name}' failed`, err)),
      );
    },
  });
}

/**
 * `store` with its reads (`get`, `getBlob`) made by direct gets (see `readObject`) instead of nats.js's ordered
 * consumer; everything else is the store's own. What `Bus.objectStore` hands out, so no read anywhere in the
 * services can hang on a consumer that died with its node.
 */
export class DirectReadObjectStore implements ObjectStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
  ) {}

  async get(name: string): Promise<ObjectResult | null> {
    const info = await objectInfo(this.jsm, this.bucket, name);
    if (!info || info.deleted) return null;
    const data = chunkStream(info, this.jsm, this.bucket);
    const error = finished(data).then(
      () => null,
      (err: unknown) => (err instanceof Error ? err : readError(`reading '${name}' failed`, err)),
    );
    return { info, data: Readable.toWeb(data) as unknown as ReadableStream<Uint8Array>, error };
  }

  async getBlob(name: string): Promise<Uint8Array | null> {
    const obj = await this.get(name);
    if (!obj) return null;
    const parts: Uint8Array[] = [];
    for await (const part of obj.data) parts.push(part);
    const all = Buffer.concat(parts);
    // A plain Uint8Array, as nats.js's getBlob answers (not a Buffer).
    return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
  }

  info(name: string): Promise<ObjectInfo | null> {
    return objectInfo(this.jsm, this.bucket, name);
  }
  list(): Promise<ObjectInfo[]> {
    return this.store.list();
  }
  put(meta: ObjectStoreMeta, rs: ReadableStream<Uint8Array>, opts?: ObjectStorePutOpts): Promise<ObjectInfo> {
    return this.store.put(meta, rs, opts);
  }
  putBlob(meta: ObjectStoreMeta, data: Uint8Array | null, opts?: ObjectStorePutOpts): Promise<ObjectInfo> {
    return this.store.putBlob(meta, data, opts);
  }
  delete(name: string): Promise<PurgeResponse> {
    return this.store.delete(name);
  }
  link(name: string, meta: ObjectInfo): Promise<ObjectInfo> {
    return this.store.link(name, meta);
  }
  linkStore(name: string, bucket: ObjectStore): Promise<ObjectInfo> {
    return this.store.linkStore(name, bucket);
  }
  watch(opts?: Parameters<ObjectStore["watch"]>[0]): ReturnType<ObjectStore["watch"]> {
    return this.store.watch(opts);
  }
  seal(): Promise<ObjectStoreStatus> {
    return this.store.seal();
  }
  status(opts?: Parameters<ObjectStore["status"]>[0]): Promise<ObjectStoreStatus> {
    return this.store.status(opts);
  }
  update(name: string, meta: Partial<ObjectStoreMeta>): Promise<PubAck> {
    return this.store.update(name, meta);
  }
  destroy(): Promise<boolean> {
    return this.store.destroy();
  }
}

function readError(message: string, cause?: unknown): BusError {
  return new BusError(BusErrorCode.ObjectRead, message, cause === undefined ? undefined : { cause });
}

/** Opens the Object Store `name` (it must exist: its owner creates it), its reads by direct gets. */
export async function openObjectStore(
  nats: { js: JetStreamClient; jsm: JetStreamManager },
  name: string,
): Promise<DirectReadObjectStore> {
  // Opening asks the stream's leader for its info: asked again while a cluster elects one.
  const store = await whileTransient(() => new Objm(nats.js).open(name));
  return new DirectReadObjectStore(store, nats.jsm, name);
}

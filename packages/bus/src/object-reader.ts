import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { ObjectStore } from "@nats-io/obj";
import { BusError, BusErrorCode } from "./errors.js";

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
 * Opens `name` in the Object Store `store` (stream `OBJ_<bucket>`) for reading with back-pressure; null when
 * there is no such object (never stored, or deleted). nats.js's own `ObjectStore.get` pushes every chunk into
 * its stream as fast as the server sends them, so a slow HTTP client would make the whole object sit in memory;
 * here each chunk is a direct get (`next_by_subj`) made when the reader wants more.
 */
export async function readObject(
  store: ObjectStore,
  jsm: JetStreamManager,
  bucket: string,
  name: string,
): Promise<ObjectRead | null> {
  const info = await store.info(name);
  if (!info || info.deleted) return null;
  if (info.options?.link) throw readError(`'${name}' is a link to another object, which is not served`);
  if (!info.digest.startsWith(DIGEST_PREFIX)) throw readError(`'${name}' has an unknown digest type`);
  const stream = `OBJ_${bucket}`;
  const subject = `$O.${bucket}.C.${info.nuid}`;
  const expected = info.digest.slice(DIGEST_PREFIX.length).replace(/=+$/, "");
  const sha = createHash("sha256");
  let nextSeq = 1;
  let chunks = 0;
  let bytes = 0;

  const nextChunk = async (): Promise<Uint8Array | null> => {
    if (chunks >= info.chunks) {
      const digest = sha.digest("base64url");
      if (bytes !== info.size || digest !== expected)
        throw readError(`'${name}' read back ${bytes} of ${info.size} bytes with another digest than stored`);
      return null;
    }
    const m = await jsm.direct.getMessage(stream, { seq: nextSeq, next_by_subj: subject });
    if (!m) throw readError(`'${name}' lacks chunk ${chunks + 1} of ${info.chunks}`);
    nextSeq = m.seq + 1;
    chunks++;
    bytes += m.data.length;
    sha.update(m.data);
    return m.data;
  };

  const readable = new Readable({
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
  return { name, size: info.size, modified: info.mtime, stream: readable };
}

function readError(message: string, cause?: unknown): BusError {
  return new BusError(BusErrorCode.ObjectRead, message, cause === undefined ? undefined : { cause });
}

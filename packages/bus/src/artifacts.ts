import { createReadStream, createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, extname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { ObjectStore } from "@nats-io/obj";
import mime from "mime-types";
import { whileTransient } from "./nats-errors.js";

/**
 * Types `mime-types` (the mime-db table) lacks for files ML steps commonly produce; everything else comes
 * from the library, the one MIME table of the project (the Slack sandbox uses it too).
 */
const ML_TYPES: Record<string, string> = {
  ".py": "text/x-python",
  ".parquet": "application/vnd.apache.parquet",
};

/** The content type of a file name, by extension (octet-stream when unknown). */
export function contentTypeFor(path: string): string {
  return ML_TYPES[extname(path).toLowerCase()] ?? (mime.lookup(path) || "application/octet-stream");
}

/**
 * Streams a local file into the Object Store as `objectName` (the file is never
 * held in memory whole) and returns the stored size in bytes. A put that times out while the store's stream
 * elects a leader (a cluster node lost) is made again from the start, a few seconds later: storing the same
 * name again replaces what a half-done put left.
 */
export async function putFile(
  store: ObjectStore,
  objectName: string,
  path: string,
  meta: { description?: string } = {},
): Promise<number> {
  return whileTransient(async () => {
    const body = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
    const info = await store.put({ name: objectName, ...meta }, body);
    return info.size;
  }, PUT_TRIES);
}

/** Times `putFile` stores a file when NATS answers "not now" (0.5 s … 4 s apart: about 20 s, an election's length). */
const PUT_TRIES = 6;

/**
 * Streams `objectName` from the Object Store into the local file `path`, creating
 * its directory. Resolves false, writing nothing, when the object does not exist.
 */
export async function getFile(store: ObjectStore, objectName: string, path: string): Promise<boolean> {
  // A read is safe to ask again: a timeout while the store's stream elects a leader (a cluster node lost) is
  // retried here for a few seconds, so a job's input or a task's branch does not fail on a moment's election.
  return whileTransient(() => getFileOnce(store, objectName, path), GET_TRIES);
}

/** Times `getFile` asks for an object when NATS answers "not now" (0.5, 1 and 2 s apart). */
const GET_TRIES = 4;

async function getFileOnce(store: ObjectStore, objectName: string, path: string): Promise<boolean> {
  const obj = await store.get(objectName);
  if (!obj) return false;
  await mkdir(dirname(path), { recursive: true });
  await pipeline(Readable.fromWeb(obj.data as unknown as WebReadableStream<Uint8Array>), createWriteStream(path));
  const err = await obj.error;
  if (err) throw err;
  return true;
}

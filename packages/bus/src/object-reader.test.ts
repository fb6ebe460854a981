import { createHash } from "node:crypto";
import type { JetStreamManager } from "@nats-io/jetstream";
import { Base64UrlPaddedCodec } from "@nats-io/obj";
import { describe, expect, it } from "vitest";
import { readObject } from "./object-reader.js";

/** An object's metadata record as nats.js stores it. */
function meta(nuid: string, bytes: Uint8Array) {
  const digest = `SHA-256=${createHash("sha256").update(bytes).digest("base64url")}=`;
  return { name: "model.bin", bucket: "b", nuid, size: bytes.length, chunks: 1, digest, mtime: "2026-12-08T00:00:00Z" };
}

/** A stored message as nats.js's direct and leader gets answer it. */
const stored = (seq: number, body: object | Uint8Array) => ({
  seq,
  data: body instanceof Uint8Array ? body : new Uint8Array(),
  json: () => body,
});

describe("readObject", () => {
  it("reads the object's newer version when a replica that is behind answered with the metadata of a replaced one", async () => {
    const old = new TextEncoder().encode("old weights");
    const now = new TextEncoder().encode("new weights, replaced since");
    const metaSubject = `$O.b.M.${Base64UrlPaddedCodec.encode("model.bin")}`;
    // The replica answers with the old metadata, whose chunks were purged when the object was replaced; the leader
    // has the new metadata, and the new chunk is there.
    const direct = async (_stream: string, q: { last_by_subj?: string; next_by_subj?: string }) => {
      if (q.last_by_subj === metaSubject) return stored(3, meta("OLD", old));
      return q.next_by_subj === "$O.b.C.NEW" ? stored(5, now) : null;
    };
    const leader = async (_stream: string, q: { last_by_subj?: string }) =>
      q.last_by_subj === metaSubject ? stored(6, meta("NEW", now)) : null;
    const jsm = { direct: { getMessage: direct }, streams: { getMessage: leader } } as unknown as JetStreamManager;

    const read = await readObject(jsm, "b", "model.bin");
    const parts: Buffer[] = [];
    for await (const part of read?.stream ?? []) parts.push(part as Buffer);
    expect(Buffer.concat(parts).toString()).toBe("new weights, replaced since");
  }, 15_000);

  it("asks the stream's leader before it calls an object absent: a replica that is behind has not got it yet", async () => {
    const bytes = new TextEncoder().encode("just stored");
    const direct = async (_stream: string, q: { last_by_subj?: string; next_by_subj?: string }) =>
      q.next_by_subj === "$O.b.C.N1" ? stored(2, bytes) : null;
    const leader = async () => stored(3, meta("N1", bytes));
    const jsm = { direct: { getMessage: direct }, streams: { getMessage: leader } } as unknown as JetStreamManager;
    const read = await readObject(jsm, "b", "model.bin");
    expect(read?.size).toBe(bytes.length);
    const parts: Buffer[] = [];
    for await (const part of read?.stream ?? []) parts.push(part as Buffer);
    expect(Buffer.concat(parts).toString()).toBe("just stored");

    const nowhere = { direct: { getMessage: async () => null }, streams: { getMessage: async () => null } };
    expect(await readObject(nowhere as unknown as JetStreamManager, "b", "model.bin")).toBeNull();
  });
});

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ObjectStore } from "@nats-io/obj";
import { errors } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { contentTypeFor, getFile, putFile } from "./artifacts.js";

/** An Object Store whose `get` fails with `failures` in turn, then hands back `bytes` (as nats.js's `get` does). */
function storeFailing(failures: Error[], bytes: string): { store: ObjectStore; calls: () => number } {
  let calls = 0;
  const get = async () => {
    const failure = failures[calls++];
    if (failure) throw failure;
    const data = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(bytes));
        c.close();
      },
    });
    return { data, error: Promise.resolve(null) };
  };
  return { store: { get } as unknown as ObjectStore, calls: () => calls };
}

describe("getFile", () => {
  it("asks again when NATS times out or finds no responders (a leader election), and fails on anything else", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mllead-getfile-"));
    try {
      const flaky = storeFailing([new errors.TimeoutError(), new errors.NoRespondersError("$JS.API.DIRECT.GET.x")], "bytes");
      expect(await getFile(flaky.store, "a", join(dir, "a"))).toBe(true);
      expect(await readFile(join(dir, "a"), "utf8")).toBe("bytes");
      expect(flaky.calls()).toBe(3);
      const broken = storeFailing([new Error("permission denied")], "bytes");
      await expect(getFile(broken.store, "b", join(dir, "b"))).rejects.toThrow("permission denied");
      expect(broken.calls()).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("contentTypeFor", () => {
  it("takes the common types from mime-db and knows the ML files it lacks", () => {
    expect(contentTypeFor("plots/loss.PNG")).toBe("image/png");
    expect(contentTypeFor("report.md")).toBe("text/markdown");
    expect(contentTypeFor("train.log")).toBe("text/plain");
    expect(contentTypeFor("eval.ipynb")).toBe("application/x-ipynb+json");
    expect(contentTypeFor("train.py")).toBe("text/x-python");
    expect(contentTypeFor("features.parquet")).toBe("application/vnd.apache.parquet");
    expect(contentTypeFor("model.pt")).toBe("application/octet-stream");
    expect(contentTypeFor("Makefile")).toBe("application/octet-stream");
  });
});

describe("putFile", () => {
  it("stores the file again from its start when a put times out (a leader election), and fails on anything else", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mllead-putfile-"));
    try {
      await writeFile(join(dir, "model.bin"), "weights");
      const failures: Error[] = [new errors.TimeoutError()];
      const stored: string[] = [];
      const put = async (meta: { name: string }, body: ReadableStream<Uint8Array>) => {
        let text = "";
        for await (const chunk of body) text += new TextDecoder().decode(chunk);
        const failure = failures.shift();
        if (failure) throw failure;
        stored.push(`${meta.name}=${text}`);
        return { size: text.length };
      };
      expect(await putFile({ put } as unknown as ObjectStore, "tasks/t/model.bin", join(dir, "model.bin"))).toBe(7);
      expect(stored).toEqual(["tasks/t/model.bin=weights"]);
      failures.push(new Error("permission denied"));
      await expect(putFile({ put } as unknown as ObjectStore, "x", join(dir, "model.bin"))).rejects.toThrow("permission denied");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

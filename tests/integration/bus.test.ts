import { Bus, type InvalidMessageError } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import { BUCKETS, CONSUMERS, everyResource, SUBJECTS, TaskCreate, TaskRecord } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { startNatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

function createCmd(taskId: string, text = "train a baseline") {
  return {
    v: 1 as const,
    taskId,
    text,
    requester: { userId: "U1" },
    slack: { channel: "C1", threadTs: "1.1", messageTs: "1.1" },
    requestedAt: new Date().toISOString(),
  };
}

describe("bus against a real nats-server", () => {
  it("provisions idempotently, dedupes by msgID and delivers validated payloads", async () => {
    await using nats = await startNatsServer();
    const bus = await Bus.connect({ url: nats.url, name: "t", log });
    await bus.setUp(everyResource([CONSUMERS.techLeadCommands]));
    await bus.setUp(everyResource([CONSUMERS.techLeadCommands])); // second start of the same service

    const a = await bus.publish(SUBJECTS.taskCreate, TaskCreate, createCmd("t1"), "evt-1");
    const b = await bus.publish(SUBJECTS.taskCreate, TaskCreate, createCmd("t1"), "evt-1");
    expect(a.duplicate).toBe(false);
    expect(b.duplicate).toBe(true);

    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      void bus.consume(CONSUMERS.techLeadCommands, TaskCreate, async (cmd) => {
        seen.push(cmd.taskId);
        resolve();
      });
    });
    await done;
    await bus.close();
    expect(seen).toEqual(["t1"]);
  });

  it("keeps objects and bucket values for their retention; a store made without one is brought to it at the next start", async () => {
    await using nats = await startNatsServer();
    const bus = await Bus.connect({ url: nats.url, name: "t", log });
    const { jsm } = rawNats(bus);
    const maxAgeSec = async (stream: string) => (await jsm.streams.info(stream)).config.max_age / 1e9;
    // An older mllead made both without a retention (kept for ever).
    await bus.setUp({ owns: { buckets: [{ name: "ret_kv", history: 1 }], objectStores: [{ name: "ret_obj" }] } });
    expect(await maxAgeSec("OBJ_ret_obj")).toBe(0);
    expect(await maxAgeSec("KV_ret_kv")).toBe(0);
    await (await bus.objectStore("ret_obj")).putBlob({ name: "kept.bin" }, new Uint8Array([1, 2, 3]));

    await bus.setUp({
      owns: {
        buckets: [{ name: "ret_kv", history: 1, ttlSec: 7 * 86_400 }],
        objectStores: [{ name: "ret_obj", ttlSec: 30 * 86_400 }],
      },
    });
    expect(await maxAgeSec("OBJ_ret_obj")).toBe(30 * 86_400);
    expect(await maxAgeSec("KV_ret_kv")).toBe(7 * 86_400);
    // What was stored stays (it is younger than the retention).
    expect(await (await bus.objectStore("ret_obj")).getBlob("kept.bin")).toEqual(new Uint8Array([1, 2, 3]));

    // A short retention ages an object out whole: its metadata and its chunks.
    await bus.setUp({ owns: { objectStores: [{ name: "ret_short", ttlSec: 1 }] } });
    const short = await bus.objectStore("ret_short");
    await short.putBlob({ name: "brief.bin" }, new Uint8Array(300 * 1024).fill(7));
    await waitFor(async () => (await short.info("brief.bin")) === null, 10_000, "the object to age out");
    expect((await jsm.streams.info("OBJ_ret_short")).state.messages).toBe(0);
    await bus.close();
  });

  it("terminates an invalid message and keeps consuming the next", async () => {
    await using nats = await startNatsServer();
    const bus = await Bus.connect({ url: nats.url, name: "t", log });
    await bus.setUp(everyResource([CONSUMERS.techLeadCommands]));
    await rawNats(bus).js.publish(SUBJECTS.taskCreate, "{not json");
    await rawNats(bus).js.publish(SUBJECTS.taskCreate, JSON.stringify({ v: 1, taskId: "bad id with spaces" }));
    await bus.publish(SUBJECTS.taskCreate, TaskCreate, createCmd("t2"), "evt-2");
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      void bus.consume(CONSUMERS.techLeadCommands, TaskCreate, async (cmd) => {
        seen.push(cmd.taskId);
        resolve();
      });
    });
    await bus.close();
    expect(seen).toEqual(["t2"]);
    // The work-queue holds nothing: the invalid messages were terminated, not left to block.
    const bus2 = await Bus.connect({ url: nats.url, name: "t", log });
    expect((await bus2.streamState("MLLEAD_CMD")).messages).toBe(0);
    await bus2.close();
  });

  it("typed KV does compare-and-swap and rejects invalid values", async () => {
    await using nats = await startNatsServer();
    const bus = await Bus.connect({ url: nats.url, name: "t", log });
    await bus.setUp(everyResource());
    const kv = await bus.kv(BUCKETS.tasks, TaskRecord);
    const now = new Date().toISOString();
    const rec = {
      v: 1 as const,
      id: "t3",
      text: "x",
      requester: { userId: "U1" },
      slack: { channel: "C", threadTs: "1", messageTs: "1" },
      state: "requested" as const,
      revision: 0,
      createdAt: now,
      updatedAt: now,
    };
    expect(await kv.create("t3", rec)).toBeTypeOf("number");
    expect(await kv.create("t3", rec)).toBeNull();
    const cur = await kv.get("t3");
    await kv.update("t3", { ...rec, state: "planning" }, cur?.revision ?? 0);
    await expect(kv.update("t3", { ...rec, state: "failed" }, cur?.revision ?? 0)).rejects.toThrow();
    await expect(kv.put("t3", { ...rec, state: "nonsense" as never })).rejects.toThrow();
    expect((await kv.get("t3"))?.value.state).toBe("planning");
    await bus.close();
  });

  it("validates request/reply on both ends", async () => {
    await using nats = await startNatsServer();
    const bus = await Bus.connect({ url: nats.url, name: "t", log });
    const { StatusQuery, StatusReply } = await import("@mllead/contracts");
    await bus.serve(
      SUBJECTS.statusQuery,
      StatusQuery,
      StatusReply,
      async () => ({ v: 1 as const, ok: true as const, active: [], recent: [] }),
      (e: InvalidMessageError) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } }),
    );
    const reply = await bus.request(SUBJECTS.statusQuery, StatusQuery, StatusReply, { v: 1 });
    expect(reply).toEqual({ v: 1, ok: true, active: [], recent: [] });
    const raw = await rawNats(bus).nc.request(SUBJECTS.statusQuery, "garbage");
    expect(JSON.parse(raw.string())).toMatchObject({ ok: false, error: { code: "invalid_message" } });
    await bus.close();
  });

  it("keeps consuming across a nats-server restart (reconnects, nothing lost)", async () => {
    await using nats = await startNatsServer();
    const bus = await Bus.connect({ url: nats.url, name: "t", log });
    await bus.setUp(everyResource([CONSUMERS.techLeadCommands]));
    const seen: string[] = [];
    await bus.consume(CONSUMERS.techLeadCommands, TaskCreate, async (cmd) => {
      seen.push(cmd.taskId);
    });
    await bus.publish(SUBJECTS.taskCreate, TaskCreate, createCmd("before"), "r-1");
    await waitFor(() => seen.includes("before"));
    // Delivery is at-least-once: restart only after the server has recorded the ack.
    await waitFor(
      async () =>
        (await bus.consumerState(CONSUMERS.techLeadCommands.stream, CONSUMERS.techLeadCommands.durable)).ackPending === 0,
    );
    await nats.restart();
    await waitFor(() => bus.isReady(), 20_000, "the reconnect");
    // The publish may race the reconnect; retry it as a producer would (the msgID keeps it single).
    await waitFor(
      async () => {
        try {
          await bus.publish(SUBJECTS.taskCreate, TaskCreate, createCmd("after"), "r-2");
          return true;
        } catch {
          return false;
        }
      },
      20_000,
      "a publish after the restart",
    );
    await waitFor(() => seen.includes("after"), 30_000, "delivery after the restart");
    expect(seen).toEqual(["before", "after"]);
    await bus.close();
  });
});

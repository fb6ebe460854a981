import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Bus, type ConsumerSpec, type StreamSpec, whileTransient } from "@mllead/bus";
import { createLogger } from "@mllead/service-kit";
import { ensureNkeyUsers, NATS_INFRA_DIR } from "@mllead/tools/nats-auth";
import { natsServerBin } from "@mllead/tools/nats-server";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { startNatsCluster } from "../helpers/nats-cluster.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

const STREAM: StreamSpec = {
  name: "CLUSTER_T",
  subjects: ["clt.>"],
  retention: "workqueue",
  maxAgeSec: 3600,
  duplicateWindowSec: 120,
};
const CONSUMER: ConsumerSpec = {
  stream: STREAM.name,
  durable: "clt-worker",
  filterSubject: "clt.>",
  ackWaitSec: 5,
  maxDeliver: 10,
  maxAckPending: 100,
};
const Item = z.object({ n: z.number().int() });

/** Publishes `n` with a msgID: the bus retries it through a leader election (deduplicated, so never twice). */
async function publish(bus: Bus, n: number): Promise<void> {
  await bus.publish(`clt.${n}`, Item, { n }, `item-${n}`);
}

describe("JetStream on a 3-node cluster", () => {
  it("creates a service's stream, bucket and object store with 3 replicas; scales a 1-replica stream and bucket up to 3", async () => {
    await using cluster = await startNatsCluster();
    // A service that started before the move to a cluster made everything with one replica.
    const before = await Bus.connect({ url: cluster.url, name: "before", log });
    await before.setUp({ owns: { streams: [STREAM], buckets: [{ name: "clt_kv", history: 1 }] } });
    expect(await cluster.streamReplicas(STREAM.name)).toBe(1);
    expect(await cluster.streamReplicas("KV_clt_kv")).toBe(1);
    await before.close();

    const bus = await Bus.connect({ url: cluster.url, name: "t", log, replicas: 3 });
    await bus.setUp({
      owns: { streams: [STREAM], buckets: [{ name: "clt_kv", history: 1 }], objectStores: [{ name: "clt_obj" }] },
      consumers: [CONSUMER],
    });
    expect(await cluster.streamReplicas(STREAM.name)).toBe(3);
    expect(await cluster.streamReplicas("KV_clt_kv")).toBe(3);
    expect(await cluster.streamReplicas("OBJ_clt_obj")).toBe(3);
    // A second start of the same service changes nothing and fails nothing.
    await bus.setUp({ owns: { streams: [STREAM] }, consumers: [CONSUMER] });
    expect(await cluster.streamReplicas(STREAM.name)).toBe(3);
    await bus.close();
  });

  it("publishing and consuming go on after the stream's leader node is SIGKILLed, and nothing is lost or doubled", async () => {
    await using cluster = await startNatsCluster();
    const bus = await Bus.connect({ url: cluster.url, name: "t", log, replicas: 3 });
    await bus.setUp({ owns: { streams: [STREAM] }, consumers: [CONSUMER] });
    const seen: number[] = [];
    await bus.consume(CONSUMER, Item, async ({ n }) => {
      seen.push(n);
    });
    for (let n = 0; n < 20; n++) await publish(bus, n);
    await waitFor(() => seen.length >= 20, 30_000, "the first 20 messages");

    const leader = await cluster.streamLeader(STREAM.name);
    await cluster.kill(leader);
    // Published at once, while the survivors elect a new leader: the bus's retries (same msgID) ride it out.
    for (let n = 20; n < 40; n++) await publish(bus, n);
    const next = await cluster.streamLeader(STREAM.name);
    expect(next).not.toBe(leader);
    await waitFor(() => seen.length >= 40, 60_000, "the 20 messages sent after the leader was killed");

    // The killed node comes back on its store and catches up; the stream is at 3 replicas again.
    await cluster.start(leader);
    for (let n = 40; n < 50; n++) await publish(bus, n);
    await waitFor(() => seen.length >= 50, 60_000, "the messages sent after the node came back");
    expect(await cluster.streamReplicas(STREAM.name)).toBe(3);
    await waitFor(async () => (await bus.streamState(STREAM.name)).messages === 0, 30_000, "every message acked");

    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await bus.close();
  }, 120_000);

  it("a metadata leader lost is replaced, and a stream can still be created", async () => {
    await using cluster = await startNatsCluster();
    const meta = await cluster.metaLeader();
    await cluster.kill(meta);
    const next = await cluster.metaLeader();
    expect(next).not.toBe(meta);
    const bus = await Bus.connect({ url: cluster.url, name: "t", log, replicas: 3 });
    // Two nodes are a quorum of three: an R3 stream is placed (its third peer catches up when the node returns).
    await bus.setUp({ owns: { streams: [STREAM] } });
    await cluster.start(meta);
    expect(await cluster.streamReplicas(STREAM.name)).toBe(3);
    await bus.close();
  }, 90_000);

  it("while no meta leader is elected, a bucket's keys are listed and an object is read (no consumer is made for either)", async () => {
    await using cluster = await startNatsCluster();
    const bus = await Bus.connect({ url: cluster.url, name: "t", log, replicas: 3 });
    await bus.setUp({ owns: { buckets: [{ name: "clt_kv", history: 1 }], objectStores: [{ name: "clt_obj" }] } });
    const kv = await bus.kv("clt_kv", Item);
    for (let n = 0; n < 5; n++) await kv.put(`k.${n}`, { n });
    await kv.delete("k.3");
    const os = await bus.objectStore("clt_obj");
    // Three chunks of 128 KiB and a bit: each read chunk by chunk.
    const bytes = Uint8Array.from({ length: 3 * 128 * 1024 + 17 }, (_, i) => (i * 31) % 251);
    await os.putBlob({ name: "model.bin" }, bytes);

    // The meta leader places consumers: nats.js's kv.keys() and ObjectStore.get() each make one, and lose it with
    // its node. With the meta leader just killed, those calls time out; reads by stream info and direct get go on.
    await cluster.kill(await cluster.metaLeader());
    expect((await kv.keys("k.*")).sort()).toEqual(["k.0", "k.1", "k.2", "k.4"]);
    expect(await os.getBlob("model.bin")).toEqual(bytes);
    const read = await bus.readObject("clt_obj", "model.bin");
    const parts: Buffer[] = [];
    for await (const part of read?.stream ?? []) parts.push(part as Buffer);
    expect(new Uint8Array(Buffer.concat(parts))).toEqual(bytes);
    expect(await os.getBlob("absent.bin")).toBeNull();
    await bus.close();
  }, 90_000);

  it("a node catching up after a restart never makes a stored object look absent or short", async () => {
    await using cluster = await startNatsCluster();
    const bus = await Bus.connect({ url: cluster.url, name: "t", log, replicas: 3 });
    await bus.setUp({ owns: { objectStores: [{ name: "clt_obj" }] } });
    const os = await bus.objectStore("clt_obj");
    // A follower of the store's stream misses what is written while it is down.
    const leader = await cluster.streamLeader("OBJ_clt_obj");
    const follower = cluster.nodes.find((n) => n.name !== leader)?.name ?? "";
    await cluster.kill(follower);
    const objects = Array.from({ length: 10 }, (_, i) => ({
      name: `tasks/t/.files/o${i}`,
      bytes: Uint8Array.from({ length: 200 * 1024 + i }, (_, j) => (j * (i + 3)) % 256),
    }));
    // Written while the cluster settles (the client may be reconnecting): a put that times out is made again.
    for (const o of objects) await whileTransient(() => os.putBlob({ name: o.name }, o.bytes), 6);
    // Back, and asked at once, before it has caught up: direct gets reach every replica, this one included.
    await cluster.start(follower);
    for (let round = 0; round < 3; round++)
      for (const o of objects) expect(await os.getBlob(o.name), `${o.name}, round ${round}`).toEqual(o.bytes);
    await bus.close();
  }, 90_000);

  it("infra/nats-cluster.conf is a valid node configuration with the shipped per-service users", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mllead-cluster-conf-"));
    try {
      for (const f of ["nats-users.conf", "nats-permissions.conf"]) await copyFile(join(NATS_INFRA_DIR, f), join(dir, f));
      const conf = await readFile(join(NATS_INFRA_DIR, "nats-cluster.conf"), "utf8");
      expect(conf).toMatch(/cluster\s*\{[^}]*routes/);
      await writeFile(join(dir, "nats-cluster.conf"), conf.replace("/data/jetstream", join(dir, "js")));
      const users = await ensureNkeyUsers(join(dir, "auth"));
      // `-t`: nats-server parses the file (includes, variables, users) and exits 0 when it would start.
      const run = promisify(execFile)(natsServerBin(), ["-t", "-c", join(dir, "nats-cluster.conf")], {
        env: { ...process.env, ...users.serverEnv, NATS_SERVER_NAME: "nats-1" },
      });
      await expect(run).resolves.toBeDefined();
      // Without its name the node refuses to start (a cluster needs stable, distinct names).
      const unnamed = promisify(execFile)(natsServerBin(), ["-t", "-c", join(dir, "nats-cluster.conf")], {
        env: { ...process.env, ...users.serverEnv },
      });
      await expect(unnamed).rejects.toThrow(/NATS_SERVER_NAME/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { createHash, randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { request } from "node:http";
import { Bus } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import { type EventOf, emitEvent, OBJECT_KEYS, OBJECT_STORE, objectStoreSpec, STREAMS } from "@mllead/contracts";
import { buildHttpApp, createLogger, createRegistry, natsCredentials } from "@mllead/service-kit";
import type { ServiceName } from "@mllead/tools/services";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signArtifact } from "../../services/slack-gateway/src/artifact-links.js";
import { registerArtifactRoute } from "../../services/slack-gateway/src/artifact-route.js";
import { startGatewayHarness } from "../helpers/gateway.js";
import { type NatsServer, startNatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = randomBytes(32).toString("hex");
const BIG = 30 * 1024 * 1024;

async function connectAs(nats: NatsServer, service: ServiceName): Promise<Bus> {
  const credentials = natsCredentials(nats.users?.serviceEnv(service) ?? {});
  return Bus.connect({
    url: nats.url,
    name: `${service}-test`,
    log: createLogger(service, "silent"),
    ...(credentials ? { credentials } : {}),
    inboxPrefix: `_INBOX_${service}`,
  });
}

/** A GET over real HTTP: status, headers and the body's bytes. */
async function get(url: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** A GET of `path` exactly as written (fetch would resolve `..` and `%2E%2E` before sending). */
async function rawGet(base: string, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/`, { path }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("artifact links: the gateway serves signed, expiring links to the Object Store over real HTTP", () => {
  let nats: NatsServer;
  let specialist: Bus;
  let gateway: Bus;
  let http: ReturnType<typeof buildHttpApp>;
  let base: string;
  let nowMs = Date.now();
  /** Bytes the gateway's NATS connection has received so far (every chunk it fetched from the Object Store). */
  const natsBytesIn = () => rawNats(gateway).nc.stats().inBytes;
  let lastResponse: ServerResponse | undefined;
  const small = randomBytes(300_000);
  const big = randomBytes(BIG);
  const smallName = OBJECT_KEYS.stepArtifact("t1", "s1", "models/model v2.pt");
  const bigName = OBJECT_KEYS.jobArtifact("t1", "j1", "checkpoint.bin");
  const link = (name: string, exp = Math.floor(nowMs / 1000) + 3600, sig = signArtifact(SECRET, name, exp)) =>
    `${base}/artifacts/${name.split("/").map(encodeURIComponent).join("/")}?exp=${exp}&sig=${sig}`;

  beforeAll(async () => {
    // Every service as its own NATS user (infra/nats-permissions.conf): the specialist writes, the gateway reads.
    nats = await startNatsServer({ users: "nkeys" });
    specialist = await connectAs(nats, "specialist-agent");
    await specialist.setUp({ owns: { streams: [STREAMS.gpu], objectStores: [objectStoreSpec()] } });
    const store = await specialist.objectStore(OBJECT_STORE);
    await store.putBlob({ name: smallName }, small);
    await store.putBlob({ name: bigName }, big);
    gateway = await connectAs(nats, "slack-gateway");
    const log = createLogger("slack-gateway", "silent");
    http = buildHttpApp({ log, registry: createRegistry("slack-gateway"), checks: { readiness: {} } });
    http.addHook("onRequest", async (_req, reply) => {
      lastResponse = reply.raw;
    });
    registerArtifactRoute({ http, bus: gateway, secret: SECRET, log, now: () => nowMs });
    await http.listen({ port: 0, host: "127.0.0.1" });
    const addr = http.server.address();
    base = `http://127.0.0.1:${addr && typeof addr === "object" ? addr.port : 0}`;
  });
  afterAll(async () => {
    await http?.close();
    await gateway?.close();
    await specialist?.close();
    await nats?.[Symbol.asyncDispose]();
  });

  it("a good link downloads the exact bytes with the content type, size and a filename", async () => {
    const res = await get(link(smallName));
    expect(res.status).toBe(200);
    expect(sha(res.body)).toBe(sha(small));
    expect(res.headers.get("content-length")).toBe(String(small.length));
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="model v2.pt"');
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("refuses a tampered name, exp or signature (403), an expired link (410) and an unknown object (404), in plain words", async () => {
    const exp = Math.floor(nowMs / 1000) + 3600;
    const good = new URL(link(smallName, exp));
    const sig = good.searchParams.get("sig") ?? "";
    const cases: [string, string, number][] = [
      ["another object, same signature", link(bigName, exp, sig), 403],
      ["a later exp, same signature", link(smallName, exp + 86_400, sig), 403],
      ["a flipped signature digit", link(smallName, exp, `${sig.slice(0, -1)}${sig.endsWith("a") ? "b" : "a"}`), 403],
      ["no signature", `${base}${good.pathname}?exp=${exp}`, 403],
      ["no query at all", `${base}${good.pathname}`, 403],
      ["expired, signed", link(smallName, Math.floor(nowMs / 1000) - 1), 410],
      ["unknown object, signed", link("tasks/t1/s1/nothing-here.bin"), 404],
    ];
    // Paths sent as written: a name the link did not sign, spelled with dots or encoded slashes, is no object.
    const q = `?exp=${exp}&sig=${sig}`;
    const raw: [string, string, number][] = [
      ["a dot-dot segment", `/artifacts/tasks/t1/s1/../s1/models/model%20v2.pt${q}`, 404],
      ["an encoded dot-dot segment", `/artifacts/tasks/t1/%2E%2E/t1/s1/models/model%20v2.pt${q}`, 404],
      ["an encoded slash", `/artifacts/tasks%2Ft1%2Fs1%2Fmodels%2Fmodel%20v2.pt${q}`, 404],
      ["a NUL byte", `/artifacts/tasks/t1/s1/models/model%20v2.pt%00${q}`, 404],
    ];
    const answers = [
      ...(await Promise.all(cases.map(async ([what, url, status]) => ({ what, status, res: await get(url) })))),
      ...(await Promise.all(raw.map(async ([what, path, status]) => ({ what, status, res: await rawGet(base, path) })))),
    ];
    for (const { what, status, res } of answers) {
      expect(res.status, what).toBe(status);
      const text = res.body.toString();
      expect(text, what).not.toMatch(/ at |Error|\.ts:|stack/);
      expect(text.length, what).toBeLessThan(200);
    }
    // The same link works until its exp and stops the second after.
    nowMs = exp * 1000;
    expect((await get(good.toString())).status).toBe(200);
    nowMs = (exp + 1) * 1000;
    expect((await get(good.toString())).status).toBe(410);
    nowMs = Date.now();
  });

  it("streams a 30 MB artifact as the client reads it: a paused client holds the server back, then gets every byte", async () => {
    const url = new URL(link(bigName));
    const before = natsBytesIn();
    const hash = createHash("sha256");
    let received = 0;
    let pausedAt = -1;
    const done = new Promise<void>((resolve, reject) => {
      const req = request(url, (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers["content-length"]).toBe(String(BIG));
        res.on("data", (chunk: Buffer) => {
          hash.update(chunk);
          received += chunk.length;
          // After the first megabyte the client stops reading, as a slow browser would.
          if (pausedAt < 0 && received >= 1024 * 1024) {
            pausedAt = received;
            res.pause();
          }
        });
        res.on("end", resolve);
        res.on("error", reject);
        resumeLater = () => res.resume();
      });
      req.on("error", reject);
      req.end();
    });
    let resumeLater: () => void = () => undefined;
    // The server is blocked on the paused client: its response asks for a drain.
    await waitFor(() => pausedAt > 0 && lastResponse?.writableNeedDrain === true, 30_000, "the server to wait for the client");
    // Then the gateway stops fetching: its NATS bytes stay put (a reader that buffers, as nats.js's own
    // ObjectStore.get does, goes on to fetch the whole object into memory and crosses the bound at once).
    let last = -1;
    let still = 0;
    await waitFor(
      () => {
        const now = natsBytesIn() - before;
        still = now === last ? still + 1 : 0;
        last = now;
        return still >= 10 || now > BIG / 2;
      },
      30_000,
      "the gateway to stop fetching",
    );
    // What sits in the kernel's socket buffers plus a chunk or two: far from the whole object.
    expect(last).toBeLessThan(BIG / 2);
    resumeLater();
    await done;
    expect(received).toBe(BIG);
    expect(hash.digest("hex")).toBe(sha(big));
    expect(natsBytesIn() - before).toBeGreaterThanOrEqual(BIG);
  });
});

describe("artifact links in the thread: the gateway shows a link instead of the bare name when MLLEAD_PUBLIC_URL is set", () => {
  it("a large step artifact is linked in the step's message, and the link downloads it from the gateway", async () => {
    const PUBLIC = "https://mllead.example.test";
    await using h = await startGatewayHarness({
      config: { MLLEAD_PUBLIC_URL: PUBLIC, MLLEAD_ARTIFACT_LINK_SECRET: SECRET, MLLEAD_ARTIFACT_LINK_TTL_HOURS: 2 },
    });
    const root = await h.sandbox.mention("train a baseline");
    await vi.waitFor(() => expect(h.creates().some((c) => c.slack.messageTs === root.ts)).toBe(true), { timeout: 20_000 });
    const taskId = h.creates().find((c) => c.slack.messageTs === root.ts)?.taskId as string;
    const objectName = OBJECT_KEYS.stepArtifact(taskId, "train", "models/model.npz");
    const bytes = randomBytes(2 * 1024 * 1024);
    await (await h.lead.objectStore(OBJECT_STORE)).putBlob({ name: objectName }, bytes);
    const event: EventOf<"step.completed"> = {
      v: 1,
      eventId: `${taskId}:train:completed:1`,
      taskId,
      at: new Date().toISOString(),
      type: "step.completed",
      stepId: "train",
      role: "ml-engineer",
      attempt: 1,
      title: "Train the baseline",
      result: {
        status: "succeeded",
        summary: "Trained.",
        artifacts: [{ name: "models/model.npz", objectName, contentType: "application/octet-stream", bytes: bytes.length }],
        metrics: {},
        filesChanged: [],
        criteria: [],
      },
    };
    await emitEvent(h.lead, event);
    const shown = () =>
      h.sandbox
        .thread(root.channel, root.ts)
        .map((m) => `${m.text ?? ""}\n${JSON.stringify(m.blocks ?? [])}`)
        .join("\n");
    await vi.waitFor(() => expect(shown()).toContain("download links, valid 2 h"), { timeout: 20_000 });
    const href = /<(https:\/\/mllead\.example\.test\/artifacts\/[^|>]+)\|models\/model\.npz>/.exec(shown())?.[1];
    expect(href, shown()).toBeDefined();
    expect(shown()).not.toContain("kept in the Object Store");
    // The link names the gateway's public address; the test reaches the same gateway on its local one.
    const local = new URL(href as string);
    const res = await get(`${h.gatewayUrl}${local.pathname}${local.search}`);
    expect(res.status).toBe(200);
    expect(sha(res.body)).toBe(sha(bytes));
    expect(res.headers.get("content-disposition")).toBe("attachment; filename=model.npz");

    // A chunk lost from the store: the download breaks off instead of passing for the whole file.
    const info = await (await h.lead.objectStore(OBJECT_STORE)).info(objectName);
    const { jsm } = rawNats(h.lead);
    const subject = `$O.${OBJECT_STORE}.C.${info?.nuid}`;
    const first = await jsm.direct.getMessage(`OBJ_${OBJECT_STORE}`, { seq: 1, next_by_subj: subject });
    const second = await jsm.direct.getMessage(`OBJ_${OBJECT_STORE}`, { seq: (first?.seq ?? 0) + 1, next_by_subj: subject });
    expect(await jsm.streams.deleteMessage(`OBJ_${OBJECT_STORE}`, second?.seq ?? 0)).toBe(true);
    const cut = await fetch(`${h.gatewayUrl}${local.pathname}${local.search}`);
    expect(cut.status).toBe(200);
    await expect(cut.arrayBuffer()).rejects.toThrow();
  });
});

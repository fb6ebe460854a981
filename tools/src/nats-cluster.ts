import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureNkeyUsers, type NatsUsers, passwordUsers, writeNatsServerConfig } from "./nats-auth.js";
import { freePort, natsServerBin } from "./nats-server.js";

/** One nats-server of a cluster: its name (`server_name`), client, route and monitoring ports, and store. */
export interface NatsClusterNode {
  name: string;
  /** Its client URL alone (`nats://127.0.0.1:<port>`). */
  url: string;
  port: number;
  clusterPort: number;
  monitorPort: number;
  storeDir: string;
  /** True while its process runs. */
  running(): boolean;
  /** Every line it logged, across restarts. */
  log(): string[];
}

export interface NatsCluster extends AsyncDisposable {
  /** Every node's client URL, comma-separated: what NATS_URL takes, so a client fails over between them. */
  url: string;
  nodes: readonly NatsClusterNode[];
  /** With `users`: the mllead users every node knows, and each service's credentials (`serviceEnv`). */
  users?: NatsUsers;
  node(name: string): NatsClusterNode;
  /** Kills a node with SIGKILL (no flush, no goodbye to its peers), as a crash or OOM kill would. */
  kill(name: string): Promise<void>;
  /** Starts a killed node again on its ports and store, and waits until it knows the meta leader again. */
  start(name: string): Promise<void>;
  /** The node that leads the JetStream meta group (stream and consumer placement), as the running nodes agree. */
  metaLeader(timeoutMs?: number): Promise<string>;
  /** The node that leads `stream`'s replica group, as the running nodes agree (waits through an election). */
  streamLeader(stream: string, timeoutMs?: number): Promise<string>;
  /** How many replicas `stream` has (its leader and followers), as a running node reports them. */
  streamReplicas(stream: string, timeoutMs?: number): Promise<number>;
}

/** How a test's cluster lets clients in; see `NatsServerOptions.users`. Unset: no users (anyone may do anything). */
export interface NatsClusterOptions {
  /** Nodes in the cluster (default 3: one may be lost and the rest keep a quorum). */
  size?: number;
  users?: "nkeys" | "passwords";
}

interface NodeState extends NatsClusterNode {
  configFile: string;
  proc: ChildProcess | undefined;
  lines: string[];
}

/** Spawns a node and resolves once it says it is ready; its log keeps being read (a full pipe would stall it). */
function launch(node: NodeState, env: NodeJS.ProcessEnv): Promise<void> {
  const proc = spawn(natsServerBin(), ["-c", node.configFile], { stdio: ["ignore", "ignore", "pipe"], env });
  node.proc = proc;
  let rest = "";
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server ${node.name} did not start in 15 s`)), 15_000);
    proc.stderr?.on("data", (d: Buffer) => {
      const parts = (rest + d.toString()).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts.filter((l) => l.trim())) {
        node.lines.push(line);
        if (line.includes("Server is ready")) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`nats-server ${node.name} exited (${code ?? signal}):\n${node.lines.slice(-20).join("\n")}`));
    });
  });
}

async function stopNode(node: NodeState, signal: NodeJS.Signals): Promise<void> {
  const p = node.proc;
  node.proc = undefined;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill(signal);
  await exited;
}

/** What a node's monitoring port says about JetStream (`/jsz`), the parts we read. */
interface Jsz {
  meta_cluster?: { leader?: string; replicas?: { name: string; current?: boolean; offline?: boolean }[] };
  account_details?: {
    stream_detail?: { name: string; cluster?: { leader?: string; replicas?: { name: string }[] } }[];
  }[];
}

/** A node's `/jsz`, or why it gave none: a node that is starting or busy electing may not answer for a moment. */
async function jsz(node: NodeState, query = ""): Promise<Jsz | Error> {
  try {
    const res = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz${query}`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as Jsz) : new Error(`${node.name}: /jsz answered ${res.status}`);
  } catch (err) {
    return new Error(`${node.name}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Asks every running node with `read` until those that answer all give the same answer, and (`namesNode`) it names
 * a running node (a node that was just killed stays "leader" in its peers' eyes until they notice and elect another).
 */
async function agreed(
  nodes: NodeState[],
  read: (j: Jsz) => string | undefined,
  what: string,
  timeoutMs: number,
  query = "",
  namesNode = true,
): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last: (string | undefined)[] = [];
  while (Date.now() < end) {
    const up = nodes.filter((n) => n.proc);
    last = await Promise.all(
      up.map(async (n) => {
        const j = await jsz(n, query);
        // The caller asks again; the last failure is in the message when it gives up.
        return j instanceof Error ? `(${j.message})` : read(j);
      }),
    );
    const answers = last.filter((v): v is string => v !== undefined && !v.startsWith("("));
    const first = answers[0];
    if (first && answers.every((v) => v === first) && (!namesNode || up.some((n) => n.name === first))) return first;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the running nodes did not agree on ${what} within ${timeoutMs} ms (last answers: ${last.join(", ")})`);
}

function streamDetail(j: Jsz, stream: string) {
  for (const a of j.account_details ?? []) for (const s of a.stream_detail ?? []) if (s.name === stream) return s;
  return undefined;
}

async function writeNodeConfig(node: NodeState, all: NodeState[], users: NatsUsers | undefined): Promise<void> {
  const routes = all.map((n) => `nats-route://127.0.0.1:${n.clusterPort}`).join(", ");
  const base = join(node.storeDir, "base.conf");
  // The users block (includes of infra/nats-users.conf or password users) comes from the single-server writer.
  if (users) {
    await writeNatsServerConfig({
      file: base,
      host: "127.0.0.1",
      port: node.port,
      storeDir: join(node.storeDir, "js"),
      users: users.kind,
    });
  } else {
    await writeFile(
      base,
      `listen: "127.0.0.1:${node.port}"\njetstream { store_dir: ${JSON.stringify(join(node.storeDir, "js"))} }\n`,
    );
  }
  const text = [
    "# Made by mllead's test cluster (tools/src/nats-cluster.ts); see infra/nats-cluster.conf for a real one.",
    `include "base.conf"`,
    `server_name: ${node.name}`,
    `http: "127.0.0.1:${node.monitorPort}"`,
    `cluster { name: mllead, listen: "127.0.0.1:${node.clusterPort}", routes: [ ${routes} ] }`,
    "",
  ].join("\n");
  await writeFile(node.configFile, text, { mode: 0o600 });
}

/** Times a cluster's start is tried on new ports when a port it picked was taken before its node bound it. */
const START_TRIES = 3;

/** Gives every node distinct free ports and an empty store (a port picked twice would fail one node's bind). */
async function assignPorts(nodes: NodeState[]): Promise<void> {
  const taken = new Set<number>();
  const pick = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  for (const n of nodes) {
    n.port = await pick();
    n.url = `nats://127.0.0.1:${n.port}`;
    n.clusterPort = await pick();
    n.monitorPort = await pick();
    n.lines.length = 0;
    await rm(n.storeDir, { recursive: true, force: true });
    await mkdir(n.storeDir, { recursive: true });
  }
}

/**
 * Starts a JetStream cluster of real nats-server processes (3 by default) on free ports, each with its own
 * temporary store and routes to the others, and resolves once a JetStream meta leader is elected. Nodes can be
 * SIGKILLed and started again on the same ports and store. Dispose it to stop every node and delete the stores.
 */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const root = await mkdtemp(join(tmpdir(), "mllead-nats-cluster-"));
  const users = opts.users === "nkeys" ? await ensureNkeyUsers(join(root, "auth")) : opts.users ? passwordUsers() : undefined;
  const env = { ...process.env, ...(users?.serverEnv ?? {}) };
  const nodes: NodeState[] = [];
  for (let i = 1; i <= size; i++) {
    const name = `n${i}`;
    const storeDir = join(root, name);
    const node: NodeState = {
      name,
      url: "",
      port: 0,
      clusterPort: 0,
      monitorPort: 0,
      storeDir,
      configFile: join(storeDir, "node.conf"),
      proc: undefined,
      lines: [],
      running: () => node.proc !== undefined,
      log: () => [...node.lines],
    };
    nodes.push(node);
  }
  const byName = (name: string) => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node '${name}' in the cluster (${nodes.map((x) => x.name).join(", ")})`);
    return n;
  };
  const metaLeader = (timeoutMs = 30_000) => agreed(nodes, (j) => j.meta_cluster?.leader, "the meta leader", timeoutMs);
  // Placement needs peers the meta leader knows to be current: "no suitable peers" otherwise, right after a start.
  const metaReady = () =>
    agreed(
      nodes,
      (j) => {
        const peers = (j.meta_cluster?.replicas ?? []).filter((r) => r.current && !r.offline).map((r) => r.name);
        const up = nodes.filter((n) => n.proc && n.name !== j.meta_cluster?.leader);
        return j.meta_cluster?.leader && up.every((n) => peers.includes(n.name)) ? j.meta_cluster.leader : undefined;
      },
      "a meta leader with every running node current",
      30_000,
    );
  const stopAll = () => Promise.all(nodes.map((n) => stopNode(n, "SIGTERM")));
  for (let attempt = 1; ; attempt++) {
    try {
      await assignPorts(nodes);
      for (const n of nodes) await writeNodeConfig(n, nodes, users);
      await Promise.all(nodes.map((n) => launch(n, env)));
      await metaReady();
      break;
    } catch (err) {
      await stopAll();
      // A port found free can be taken by another process before its node binds it: start over on new ports.
      if (attempt < START_TRIES && /address already in use/.test(String(err))) continue;
      await rm(root, { recursive: true, force: true });
      throw err;
    }
  }
  const streamQuery = "?accounts=true&streams=true";
  return {
    url: nodes.map((n) => n.url).join(","),
    nodes,
    ...(users ? { users } : {}),
    node: byName,
    kill: (name) => stopNode(byName(name), "SIGKILL"),
    start: async (name) => {
      const n = byName(name);
      if (n.proc) throw new Error(`node ${name} is running`);
      await launch(n, env);
      await metaReady();
    },
    metaLeader,
    streamLeader: (stream, timeoutMs = 30_000) =>
      agreed(nodes, (j) => streamDetail(j, stream)?.cluster?.leader, `the leader of stream ${stream}`, timeoutMs, streamQuery),
    streamReplicas: async (stream, timeoutMs = 30_000) => {
      const count = await agreed(
        nodes,
        (j) => {
          const c = streamDetail(j, stream)?.cluster;
          return c?.leader ? String(1 + (c.replicas?.length ?? 0)) : undefined;
        },
        `the replicas of stream ${stream}`,
        timeoutMs,
        streamQuery,
        false,
      );
      return Number(count);
    },
    [Symbol.asyncDispose]: async () => {
      await stopAll();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * `pnpm bench` (ack): how long Slack waits for the HTTP 200 of a signed mention — the gateway next
 * to a bare Bolt app that only acknowledges, side by side in the same run on the same machine.
 *
 * Five processes besides this one: nats-server, the Slack sandbox with a stand-in tech lead that
 * answers each task with a plan and status-card updates (so the gateway renders all the while), the
 * real gateway (`services/slack-gateway/src/main.ts`), and a bare Bolt app on Bolt's HTTPReceiver.
 * This process only signs, sends and times: BENCH_ACK_MENTIONS mentions (default 500) at
 * BENCH_ACK_RATE per second (default 100) to each, the Bolt request half an interval after the
 * gateway's, over keep-alive connections, after a warm-up of 50. BENCH_ACK_RUNS runs (default 3);
 * the medians across runs come last. Goal (issue 7): gateway p99 within 3× bare Bolt's.
 *
 * Latency on a shared machine moves with everything else running; the gateway's CPU time per thread
 * (from /proc) does not, and shows how much work shares the event loop that acknowledges Slack.
 * GATEWAY_BACKGROUND=inline runs the gateway's background work on that loop, to compare.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { CONSUMERS, STREAMS } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { signSlackRequest } from "@mllead/slack-sandbox";
import { findNatsServer, INSTALL_HINT, startNatsServer } from "@mllead/tools/nats";
import { REPO_ROOT, startService, stopService } from "@mllead/tools/services";

const N = Number(process.env.BENCH_ACK_MENTIONS ?? 500);
const RATE = Number(process.env.BENCH_ACK_RATE ?? 100);
const RUNS = Number(process.env.BENCH_ACK_RUNS ?? 3);
const WARMUP = 50;
const SECRET = "bench-signing-secret";
const TOKEN = "xoxb-bench-token";

interface Sample {
  ms: number;
  status: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Starts one of bench-ack-peers.ts's processes and waits for its ready message. */
async function startPeer(
  mode: "world" | "bolt",
  env: NodeJS.ProcessEnv,
): Promise<{ proc: ChildProcess; ready: Record<string, unknown> }> {
  const proc = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "scripts/lib/bench-ack-peers.ts"), mode], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    proc.once("message", (m) => resolve(m as Record<string, unknown>));
    proc.once("exit", (code) => reject(new Error(`bench peer '${mode}' exited with ${code}`)));
  });
  return { proc, ready };
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** Sends a signed body; resolves with the time from the first byte sent to the last byte received. */
function post(port: number, body: string): Promise<Sample> {
  const ts = Math.floor(Date.now() / 1000);
  const headers = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-slack-request-timestamp": String(ts),
    "x-slack-signature": signSlackRequest(SECRET, ts, body),
  };
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request({ host: "127.0.0.1", port, path: "/slack/events", method: "POST", agent, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0 }));
    });
    req.on("error", () => resolve({ ms: performance.now() - t0, status: 0 }));
    req.end(body);
  });
}

let seq = 0;
function mention(channel: string): string {
  seq += 1;
  const ts = `${Math.floor(Date.now() / 1000)}.${String(seq).padStart(6, "0")}`;
  return JSON.stringify({
    token: "bench",
    team_id: "T0SANDBOX",
    api_app_id: "A0MLLEAD",
    event: {
      type: "app_mention",
      user: "U0HUMAN",
      text: `<@U0MLLEAD> train a baseline on the churn table and compare it with last week's model (${seq})`,
      ts,
      channel,
      event_ts: ts,
      team: "T0SANDBOX",
    },
    type: "event_callback",
    event_id: `EvBENCH${process.pid}x${seq}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: "T0SANDBOX", user_id: "U0MLLEAD", is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** `count` mentions at `rate`/s to each target, interleaved; the samples per target. */
async function drive(count: number, rate: number, ports: { gateway: number; bolt: number }, channels: string[]) {
  const interval = 1000 / rate;
  const gateway: Promise<Sample>[] = [];
  const bolt: Promise<Sample>[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const channel = channels[i % channels.length] ?? "C0BENCH0";
    await sleep(start + i * interval - performance.now());
    gateway.push(post(ports.gateway, mention(channel)));
    await sleep(start + (i + 0.5) * interval - performance.now());
    bolt.push(post(ports.bolt, mention(channel)));
  }
  return { gateway: await Promise.all(gateway), bolt: await Promise.all(bolt), seconds: (performance.now() - start) / 1000 };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

interface Stats {
  p50: number;
  p99: number;
  max: number;
  failed: number;
}

function stats(samples: Sample[]): Stats {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    p50: pct(ms, 50),
    p99: pct(ms, 99),
    max: ms.at(-1) ?? Number.NaN,
    failed: samples.filter((s) => s.status !== 200).length,
  };
}

const f = (n: number) => `${n.toFixed(2).padStart(8)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

function table(gw: Stats, bolt: Stats): string {
  return [
    `${"".padEnd(26)} ${"p50".padStart(11)} ${"p99".padStart(11)} ${"max".padStart(11)}  non-200`,
    `${"gateway".padEnd(26)} ${f(gw.p50)} ${f(gw.p99)} ${f(gw.max)}  ${gw.failed}`,
    `${"bare Bolt (HTTPReceiver)".padEnd(26)} ${f(bolt.p50)} ${f(bolt.p99)} ${f(bolt.max)}  ${bolt.failed}`,
    `${"ratio gateway / Bolt".padEnd(26)} ${`${(gw.p50 / bolt.p50).toFixed(2)}×`.padStart(11)} ${`${(gw.p99 / bolt.p99).toFixed(2)}×`.padStart(11)}`,
  ].join("\n");
}

/**
 * CPU time (ms) a process (tid = pid: its main thread) or all its threads used so far, from /proc
 * (Linux; NaN elsewhere). Unlike latency, this hardly moves with other load on the machine.
 */
function cpuMs(pid: number, mainThreadOnly: boolean): number {
  try {
    const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Waits until the gateway has handled every stored mention (its inbox is empty); the seconds it took. */
async function drained(b: Bus, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  // A gateway without an inbox (an older build, compared with BENCH_ACK_*) handled its mentions before its 200.
  const pending = async () => (await b.streamState("MLLEAD_SLACK_IN").catch(() => null))?.messages ?? 0;
  while ((await pending()) > 0) {
    if (performance.now() - t0 > timeoutMs) throw new Error("the gateway did not work through its inbox in time");
    await sleep(50);
  }
  return (performance.now() - t0) / 1000;
}

const natsBin = findNatsServer();
if (!natsBin) {
  process.stderr.write(`${INSTALL_HINT}\n`);
  process.exit(1);
}
const storeDir = await mkdtemp(join(tmpdir(), "mllead-bench-ack-"));
const natsUrl = `nats://127.0.0.1:${await freePort()}`;
const nats = await startNatsServer(natsBin, natsUrl, storeDir);
const children: ChildProcess[] = [nats];
const baseEnv: NodeJS.ProcessEnv = { ...process.env, NATS_URL: natsUrl, SLACK_BOT_TOKEN: TOKEN, SLACK_SIGNING_SECRET: SECRET };
delete baseEnv.SLACK_APP_TOKEN;
delete baseEnv.SLACK_API_URL;
let gatewayProc: Awaited<ReturnType<typeof startService>> | undefined;
let bus: Bus | undefined;
// However this process ends (Ctrl-C, a closed pipe, an error), it leaves no server behind.
process.on("exit", () => {
  for (const c of [...children, ...(gatewayProc ? [gatewayProc.proc] : [])]) {
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => process.exit(130));
process.stdout.on("error", () => process.exit(1));
try {
  const world = await startPeer("world", baseEnv);
  children.push(world.proc);
  const channels = world.ready.channels as string[];
  const boltPort = await freePort();
  const bolt = await startPeer("bolt", { ...baseEnv, BENCH_BOLT_PORT: String(boltPort) });
  children.push(bolt.proc);
  const gatewayPort = await freePort();
  gatewayProc = startService(
    "slack-gateway",
    {
      ...baseEnv,
      SLACK_API_URL: String(world.ready.apiUrl),
      GATEWAY_PORT: String(gatewayPort),
      LOG_LEVEL: process.env.BENCH_ACK_LOG_LEVEL ?? "warn",
    },
    process.env.BENCH_ACK_LOG_LEVEL ? { onLine: (_n, line) => process.stderr.write(`${line}\n`) } : {},
  );
  await gatewayProc.ready;
  bus = await Bus.connect({ url: natsUrl, name: "bench-ack", log: createLogger("bench-ack", "silent") });
  const ports = { gateway: gatewayPort, bolt: boltPort };

  await drive(WARMUP, RATE, ports, channels);
  await drained(bus);
  const runs: { gw: Stats; bolt: Stats; cpu: { main: number; all: number } }[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const cmdBefore = (await bus.streamState(STREAMS.commands.name)).lastSeq;
    const pid = gatewayProc.proc.pid ?? 0;
    const cpu0 = { main: cpuMs(pid, true), all: cpuMs(pid, false) };
    const r = await drive(N, RATE, ports, channels);
    const cpu = { main: cpuMs(pid, true) - cpu0.main, all: cpuMs(pid, false) - cpu0.all };
    const backlog = await bus.consumerState(STREAMS.events.name, CONSUMERS.gateway.durable);
    const drainSec = await drained(bus);
    const cmdAfter = (await bus.streamState(STREAMS.commands.name)).lastSeq;
    const gw = stats(r.gateway);
    const b = stats(r.bolt);
    runs.push({ gw, bolt: b, cpu: { main: cpu.main / r.seconds / 10, all: cpu.all / r.seconds / 10 } });
    process.stdout.write(
      `\nHTTP ack of a signed mention, run ${run}/${RUNS}: ${N} to each at ${RATE}/s (${r.seconds.toFixed(1)} s)\n${table(gw, b)}\n` +
        `gateway CPU during the run: main thread (the one that acks) ${(cpu.main / r.seconds / 10).toFixed(0)}%, whole process ${(cpu.all / r.seconds / 10).toFixed(0)}% of a core\n` +
        `task events waiting to be rendered when the run ended: ${backlog.pending + backlog.ackPending}; ` +
        `tasks created from the run's mentions: ${cmdAfter - cmdBefore}/${N}, the last ${drainSec.toFixed(1)} s after the run\n`,
    );
  }
  const med = (pick: (x: (typeof runs)[number]) => number) => median(runs.map(pick));
  const gw: Stats = {
    p50: med((x) => x.gw.p50),
    p99: med((x) => x.gw.p99),
    max: med((x) => x.gw.max),
    failed: med((x) => x.gw.failed),
  };
  const b: Stats = {
    p50: med((x) => x.bolt.p50),
    p99: med((x) => x.bolt.p99),
    max: med((x) => x.bolt.max),
    failed: med((x) => x.bolt.failed),
  };
  const ratio = gw.p99 / b.p99;
  process.stdout.write(
    `\nHTTP ack, median of ${RUNS} runs (gateway background work: ${process.env.GATEWAY_BACKGROUND ?? "thread"})\n${table(gw, b)}\n` +
      `gateway CPU: main thread (the one that acks) ${med((x) => x.cpu.main).toFixed(0)}%, whole process ${med((x) => x.cpu.all).toFixed(0)}% of a core\n` +
      `goal: gateway p99 within 3× bare Bolt's — ${ratio <= 3 ? "met" : "NOT met"} (${ratio.toFixed(2)}×)\n`,
  );
} finally {
  await bus?.close().catch(() => undefined);
  if (gatewayProc) await stopService(gatewayProc);
  for (const c of children.reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      await Promise.race([exited, sleep(5000)]);
    }
  }
  agent.destroy();
  await rm(storeDir, { recursive: true, force: true });
}

/**
 * `pnpm bench memory`: each service's idle memory (issue 13, item 5), beside the least a service of ours could be.
 *
 * Against a private nats-server (and the Slack sandbox, which the gateway asks who it is at start), one group at a
 * time: (a) the bare process of scripts/lib/bare-service.mjs (Fastify + @nats-io/transport-node + pino + zod,
 * connected and listening); (b) the four services from the build (`pnpm build`, done first when stale), plain
 * node; (c) the four from source through tsx, as before the build existed. (a) and (b) run with the production V8
 * flags (PROD_NODE_FLAGS of tools/src/services.ts), as the image and `pnpm start --prod` run the services. Each
 * process is left idle BENCH_MEMORY_SETTLE_SEC after it is ready (default 5), then its resident set (VmRSS of
 * /proc/<pid>/status) is read BENCH_MEMORY_SAMPLES times a second apart (default 5); the median is reported.
 * Goal: each service from dist at most 1.2× the bare process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { build } from "@mllead/tools/build";
import { startNatsServer } from "@mllead/tools/nats-server";
import {
  PROD_NODE_FLAGS,
  REPO_ROOT,
  SERVICE_NAMES,
  type ServiceFrom,
  type ServiceName,
  type ServiceProcess,
  startService,
  stopService,
} from "@mllead/tools/services";
import { servicesWorld } from "@mllead/tools/stack";

const SETTLE_MS = Number(process.env.BENCH_MEMORY_SETTLE_SEC ?? 5) * 1000;
const SAMPLES = Number(process.env.BENCH_MEMORY_SAMPLES ?? 5);
const GOAL = 1.2;

const say = (line: string) => process.stdout.write(`${line}\n`);

/** The resident set of a process in MiB, from /proc (Linux). */
function rssMiB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) / 1024;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Reads the RSS of every process SAMPLES times, a second apart, after they have been idle SETTLE_MS. */
async function idleRss(procs: ChildProcess[]): Promise<number[]> {
  await sleep(SETTLE_MS);
  const samples: number[][] = procs.map(() => []);
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await sleep(1000);
    procs.forEach((p, j) => {
      if (p.pid === undefined || p.exitCode !== null) throw new Error(`process ${p.spawnargs.join(" ")} is gone`);
      samples[j]?.push(rssMiB(p.pid));
    });
  }
  return samples.map(median);
}

/** The bare process, ready when it says so over IPC. */
async function bareRss(natsUrl: string): Promise<number> {
  // With the services' production V8 flags: the comparison is of what is loaded, not of how V8 is tuned.
  const proc = spawn(process.execPath, [...PROD_NODE_FLAGS, join(REPO_ROOT, "scripts/lib/bare-service.mjs")], {
    env: { PATH: process.env.PATH, NATS_URL: natsUrl, PORT: "0", LOG_LEVEL: "info" },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", r));
  try {
    await new Promise<void>((resolve, reject) => {
      proc.on("message", (m: { type?: string }) => m?.type === "ready" && resolve());
      void exited.then((code) => reject(new Error(`the bare service exited with ${code} before it was ready`)));
    });
    const [rss] = await idleRss([proc]);
    return rss ?? Number.NaN;
  } finally {
    proc.kill("SIGTERM");
    await exited;
  }
}

/** The four services at once, from dist or from source; their idle RSS by name. */
async function servicesRss(from: ServiceFrom, env: NodeJS.ProcessEnv): Promise<Map<ServiceName, number>> {
  const services: ServiceProcess[] = SERVICE_NAMES.map((name) => startService(name, env, { from }));
  try {
    await Promise.all(services.map((s) => s.ready));
    const rss = await idleRss(services.map((s) => s.proc));
    return new Map(services.map((s, i) => [s.name, rss[i] ?? Number.NaN]));
  } catch (err) {
    for (const s of services) say(`${s.name} (${from}) last lines:\n${s.lines.slice(-5).join("\n")}`);
    throw err;
  } finally {
    await Promise.all(services.map((s) => stopService(s)));
  }
}

const mb = (n: number) => n.toFixed(1).padStart(8);

const built = await build({ onLine: (line) => say(`build | ${line}`) });
say(built.built.length ? `built ${built.built.join(", ")} in ${built.ms} ms` : "the build is up to date");

await using nats = await startNatsServer();
const { dir, sandbox, env: base } = await servicesWorld(nats.url, { name: "bench-memory" });
const env: NodeJS.ProcessEnv = { ...base, PORT: "0", MLLEAD_SANDBOX: "process" };
try {
  say(`idle RSS: ready + ${SETTLE_MS / 1000} s, median of ${SAMPLES} reads of VmRSS (MiB); Node ${process.version}`);
  const bare = await bareRss(nats.url);
  const dist = await servicesRss("dist", env);
  const tsx = await servicesRss("source", env);
  say("");
  say(`${"service".padEnd(18)} ${"RSS dist".padStart(8)} ${"RSS tsx".padStart(8)} ${"dist/bare".padStart(10)}  goal ≤ ${GOAL}×`);
  say(`${"bare (yardstick)".padEnd(18)} ${mb(bare)} ${"".padStart(8)} ${"1.00×".padStart(10)}`);
  for (const name of SERVICE_NAMES) {
    const d = dist.get(name) ?? Number.NaN;
    const ratio = d / bare;
    const verdict = ratio <= GOAL ? "ok" : "above goal";
    say(`${name.padEnd(18)} ${mb(d)} ${mb(tsx.get(name) ?? Number.NaN)} ${`${ratio.toFixed(2)}×`.padStart(10)}  ${verdict}`);
  }
} finally {
  await sandbox.close();
  await rm(dir, { recursive: true, force: true });
}

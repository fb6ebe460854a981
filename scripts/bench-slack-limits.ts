/**
 * `pnpm bench` (Slack limits): BENCH_LIMITS_MENTIONS mentions (default 30) spread over
 * BENCH_LIMITS_CHANNELS channels (default 3), all at once, against a sandbox with Slack-like limits
 * (chat.postMessage one a second per channel with a burst of 4; Tier 3 — 50 a minute — for updates,
 * reactions and status; 429 + Retry-After beyond). Measures how long until every plan is in its
 * thread, and compares it with the time the limits themselves impose:
 *
 * - `limits, plans only`: each channel's bucket replayed over the moments the tech lead produced
 *   the plans (the earliest every plan could be posted if nothing else were posted);
 * - `limits, card + plan`: the issue's count, two posts per thread (status card and plan) per channel.
 *
 * Goal (issue 7): every plan within 1.5× the limit-imposed time. Also checks that nothing was lost
 * or doubled: each thread has its plan exactly once and no message twice.
 * Runs the real stack (nats-server, the four services as processes, the Slack sandbox).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { parseEventSubject, taskIdFor } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { type SandboxMessage, SLACK_LIKE_LIMITS, startSlackSandbox } from "@mllead/slack-sandbox";
import { freePort, startNatsServer } from "@mllead/tools/nats-server";
import { SERVICE_NAMES, type ServiceProcess, startService, stopService } from "@mllead/tools/services";

const N = Number(process.env.BENCH_LIMITS_MENTIONS ?? 30);
const CHANNELS = Number(process.env.BENCH_LIMITS_CHANNELS ?? 3);
const POST = SLACK_LIKE_LIMITS["chat.postMessage"] as { perSecond: number; burst: number };

/** When a channel's token bucket lets each of `ready` (ms, sorted) out: burst tokens, then perSecond. */
function bucketFinish(ready: number[], start: number): number {
  let tokens = POST.burst;
  let t = start;
  let last = start;
  for (const r of [...ready].sort((a, b) => a - b)) {
    const at = Math.max(r, t);
    tokens = Math.min(POST.burst, tokens + ((at - t) / 1000) * POST.perSecond);
    t = at;
    if (tokens < 1) {
      t += ((1 - tokens) / POST.perSecond) * 1000;
      tokens = 1;
    }
    tokens -= 1;
    last = t;
  }
  return last;
}

const keyOf = (m: SandboxMessage) => String(m.metadata?.event_payload?.event_id ?? "");
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const nats = await startNatsServer();
const dir = await mkdtemp(join(tmpdir(), "mllead-bench-limits-"));
const signingSecret = randomBytes(16).toString("hex");
const botToken = `xoxb-bench-${randomBytes(6).toString("hex")}`;
const gatewayPort = await freePort();
const channels = Array.from({ length: CHANNELS }, (_, i) => ({ id: `C0BENCH${i + 1}`, name: `bench-${i + 1}` }));
const sandbox = await startSlackSandbox({
  botToken,
  signingSecret,
  gatewayUrl: `http://127.0.0.1:${gatewayPort}/slack/events`,
  channels,
  rateLimits: SLACK_LIKE_LIMITS,
});
const env: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  NATS_URL: nats.url,
  SLACK_BOT_TOKEN: botToken,
  SLACK_SIGNING_SECRET: signingSecret,
  SLACK_API_URL: sandbox.apiUrl,
  GATEWAY_PORT: String(gatewayPort),
  MLLEAD_WORKSPACE_DIR: join(dir, "workspaces"),
  MLLEAD_STATE_DIR: join(dir, "state"),
  MLLEAD_JOBS_DIR: join(dir, "jobs"),
  RUNNER_ID: "bench-runner",
  LOG_LEVEL: "warn",
};
const services: ServiceProcess[] = [];
try {
  for (const name of SERVICE_NAMES) services.push(startService(name, env));
  await Promise.all(services.map((p) => p.ready));
  // When the tech lead produced each plan: the limits cannot post a plan before it exists.
  const bus = await Bus.connect({ url: nats.url, name: "bench-observer", log: createLogger("bench", "silent") });
  const plannedAt = new Map<string, number>();
  await bus.subscribe("mllead.evt.task.*.task.planned", (m) => {
    const taskId = parseEventSubject(m.subject)?.taskId;
    if (taskId) plannedAt.set(taskId, performance.now());
  });

  const start = performance.now();
  const sent = await Promise.all(
    Array.from({ length: N }, (_, i) => {
      const channel = channels[i % CHANNELS]?.id as string;
      return sandbox.mention(`train a baseline on the churn table, run ${i}`, { channel });
    }),
  );
  const planAt = new Map<string, number>();
  const deadline = Date.now() + 180_000;
  while (planAt.size < N && Date.now() < deadline) {
    for (const m of sent) {
      const thread = sandbox.thread(m.channel, m.ts);
      if (!planAt.has(m.ts) && thread.some((x) => keyOf(x).endsWith("task.planned"))) planAt.set(m.ts, performance.now());
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  // Let whatever else was queued (status cards of tasks that moved on) go out before counting.
  await new Promise((r) => setTimeout(r, 3000));
  await bus.close();
  if (planAt.size < N) throw new Error(`only ${planAt.size} of ${N} plans reached their threads`);

  const ours = Math.max(...planAt.values()) - start;
  // Plans' ready times per channel (a mention's task id follows from its channel and ts).
  const readyByChannel = new Map<string, number[]>();
  for (const m of sent) {
    const t = plannedAt.get(taskIdFor(m.channel, m.ts, sandbox.bot.teamId));
    if (t !== undefined) readyByChannel.set(m.channel, [...(readyByChannel.get(m.channel) ?? []), t]);
  }
  const limitPlans = Math.max(...[...readyByChannel.values()].map((r) => bucketFinish(r, start))) - start;
  const perChannel = Math.ceil(N / CHANNELS);
  const limitIssue = (Math.max(0, 2 * perChannel - POST.burst) / POST.perSecond) * 1000;
  const lastReady = Math.max(...plannedAt.values()) - start;

  // Nothing lost or doubled: each thread has its plan once, and no message twice.
  const intact = sent.every((m) => {
    const keys = sandbox.thread(m.channel, m.ts).map(keyOf).filter(Boolean);
    return keys.filter((k) => k.endsWith("task.planned")).length === 1 && new Set(keys).size === keys.length;
  });
  const limited = sandbox.calls().filter((c) => c.status === 429).length;

  process.stdout.write(
    `\nSlack limits: ${N} mentions in ${CHANNELS} channels at once (chat.postMessage ${POST.perSecond}/s per channel, burst ${POST.burst})\n`,
  );
  process.stdout.write(`  last plan produced by the tech lead   ${s(lastReady).padStart(8)}\n`);
  process.stdout.write(`  every plan in its thread (ours)       ${s(ours).padStart(8)}\n`);
  process.stdout.write(
    `  limits, plans only                     ${s(limitPlans).padStart(8)}   ours/limit = ${(ours / Math.max(1, limitPlans)).toFixed(2)}×\n`,
  );
  process.stdout.write(
    `  limits, card + plan (the issue's 16 s) ${s(limitIssue).padStart(8)}   ours/limit = ${(ours / Math.max(1, limitIssue)).toFixed(2)}×\n`,
  );
  process.stdout.write(`  429 answers ${limited} · every plan in its thread once, nothing doubled: ${intact ? "yes" : "NO"}\n`);
  if (!intact) process.exitCode = 1;
} finally {
  await Promise.all(services.map((p) => stopService(p, 5000)));
  await sandbox.close();
  await nats[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
}

/**
 * `pnpm bench chaos`: BENCH_CHAOS_TASKS tasks at once (default 20) on a 3-node JetStream cluster
 * (MLLEAD_STREAM_REPLICAS=3) with two specialist-agent and two gpu-runner processes, while every service process
 * and one NATS node at a time is SIGKILLed at random moments (every 3–10 s) and started again. Prints the tasks
 * done, lost (no summary within BENCH_CHAOS_BUDGET_S, default 900) and doubled (a step completed twice, a job
 * finished twice, or two summaries); the jobs run again because their runner was killed mid-job (at least once, by
 * design: the job's process dies with its runner); and the slowest recovery: from a kill to the next thing a person
 * sees in any unfinished task's thread after the killed process is back.
 *
 * The second specialist has its own state and workspace directories (stateless specialists: each step fetches the
 * task branch); BENCH_CHAOS_SHARED_DIRS=1 makes it share the first one's. BENCH_CHAOS_SEED fixes the random choices.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import { STREAMS, SUBJECTS, TaskEvent, taskIdFor } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { type NatsCluster, startNatsCluster } from "@mllead/tools/nats-cluster";
import { type ServiceName, type ServiceProcess, startService, stopService } from "@mllead/tools/services";
import { type Stack, startStackOn } from "@mllead/tools/stack";

const TASKS = Number(process.env.BENCH_CHAOS_TASKS ?? 20);
const BUDGET_MS = Number(process.env.BENCH_CHAOS_BUDGET_S ?? 900) * 1000;
const SHARED_DIRS = process.env.BENCH_CHAOS_SHARED_DIRS === "1";
let seed = Number(process.env.BENCH_CHAOS_SEED ?? Date.now() % 100_000);
const SEED = seed;
/** A small seeded generator (mulberry32), so a run can be repeated with BENCH_CHAOS_SEED. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (lo: number, hi: number) => lo + random() * (hi - lo);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = createLogger("bench-chaos", "silent");

const TEXTS = [
  "train an MLP on the churn table for 200 epochs and report it against the baseline",
  "train a baseline on the churn table and compare it with last week's model",
  "train a gradient boosted model on the churn table and report it against the baseline",
];

/** What can be killed: a stack service, an extra replica, or a NATS node. */
interface Victim {
  name: string;
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** What a bot message is, from the key the gateway stored with it (as tests/helpers/thread.ts reads it). */
function kindOf(key: string): string {
  if (key.startsWith("card:") || key.startsWith("job:")) return key.split(":")[0] as string;
  return /^(step\.[a-z_]+):/.exec(key)?.[1] ?? key.split(".").slice(-2).join(".");
}

/** For each lost task, what its thread shows; every process's warnings and errors go to a file for the reader. */
async function explainLost(
  stack: Stack<NatsCluster>,
  sent: { ts: string }[],
  summaries: number[],
  extras: { name: string; lines(): string[] }[],
): Promise<void> {
  for (const [i, m] of sent.entries()) {
    if ((summaries[i] ?? 0) > 0) continue;
    const kinds = stack.sandbox
      .thread(stack.sandbox.defaultChannel, m.ts)
      .filter((x) => x.bot_id)
      .map((x) => kindOf(String(x.metadata?.event_payload?.event_id ?? "")));
    process.stdout.write(`lost task ${i + 1}: ${kinds.join(" ")}\n`);
  }
  const file = join(tmpdir(), `mllead-chaos-${SEED}.log`);
  const sources = [
    ...(["tech-lead", "specialist-agent", "gpu-runner", "slack-gateway"] as const).map((n) => ({
      name: n,
      lines: () => stack.logs(n),
    })),
    ...extras,
  ];
  const complaints = sources.flatMap((s) =>
    s
      .lines()
      .filter((l) => /"level":(40|50|60)/.test(l))
      .map((l) => `${s.name} ${l}`),
  );
  await writeFile(file, `${complaints.join("\n")}\n`);
  process.stdout.write(`warnings and errors of every process: ${file}\n`);
}

/** A second process of a service beside the stack's own (its own RUNNER_ID, its own directories where asked). */
function replica(name: ServiceName, env: NodeJS.ProcessEnv): Victim & { stop(): Promise<void>; lines(): string[] } {
  let proc: ServiceProcess | undefined;
  const lines: string[] = [];
  const start = async () => {
    proc = startService(name, env, { onLine: (_, line) => lines.push(line) });
    await proc.ready;
  };
  return {
    name: `${name}#2`,
    start,
    lines: () => lines,
    kill: async () => {
      proc?.proc.kill("SIGKILL");
      await proc?.exited;
    },
    stop: async () => {
      if (proc) await stopService(proc, 5000);
    },
  };
}

function victims(stack: Stack<NatsCluster>, extras: Victim[]): Victim[] {
  const services = (["tech-lead", "specialist-agent", "gpu-runner", "slack-gateway"] as const).map((n) => ({
    name: n,
    kill: () => stack.kill(n),
    start: () => stack.start(n),
  }));
  // One NATS node at a time: the next kill picks a node again (the same or another).
  let down = "";
  const nats: Victim = {
    name: "nats-node",
    kill: async () => {
      down = stack.nats.nodes[Math.floor(random() * stack.nats.nodes.length)]?.name ?? "n1";
      await stack.nats.kill(down);
    },
    start: () => stack.nats.start(down),
  };
  return [...services, ...extras, nats];
}

/** What a person sees: how many bot messages all threads hold, and which tasks have their summary. */
function progress(stack: Stack<NatsCluster>, sent: { ts: string }[]) {
  const threads = sent.map((m) => stack.sandbox.thread(stack.sandbox.defaultChannel, m.ts).filter((x) => x.bot_id));
  const kind = (x: { metadata?: { event_payload?: Record<string, unknown> } }) =>
    String(x.metadata?.event_payload?.event_id ?? "");
  return {
    messages: threads.reduce((a, t) => a + t.length, 0),
    summaries: threads.map((t) => t.filter((x) => kind(x).endsWith("task.completed")).length),
    /** Plans shown (the first, and each revision after a failed step) and approvals shown, per task. */
    planned: threads.map((t) => t.filter((x) => kind(x).endsWith("task.planned")).length),
    approved: threads.map((t) => t.filter((x) => kind(x).endsWith("task.approved")).length),
  };
}

/**
 * Mentions, then approves each plan as a person would — the first, and a revision the tech lead asks about after a
 * step failed: once, and again only when no approval showed in the thread 20 s later (the gateway may have been
 * down). Runs until `until()` says stop.
 */
async function sendTasks(stack: Stack<NatsCluster>, until: () => boolean): Promise<{ ts: string }[]> {
  const sent: { ts: string }[] = [];
  for (let i = 0; i < TASKS; i++) sent.push(await stack.sandbox.mention(`${TEXTS[i % TEXTS.length]} (#${i + 1})`));
  const askedAt = new Map<number, number>();
  void (async () => {
    while (!until()) {
      const p = progress(stack, sent);
      for (const [i, m] of sent.entries()) {
        const waiting = (p.planned[i] ?? 0) > (p.approved[i] ?? 0) && (p.summaries[i] ?? 0) === 0;
        if (!waiting || Date.now() - (askedAt.get(i) ?? 0) < 20_000) continue;
        askedAt.set(i, Date.now());
        const res = await stack.sandbox.reply(m.ts, "approve").catch((err: unknown) => ({ status: String(err) }));
        if (res.status !== 200) process.stderr.write(`approval of task ${i + 1} not delivered (${res.status})\n`);
      }
      await sleep(1000);
    }
  })();
  return sent;
}

/** Starts a killed process again; one that fails to start is tried again (3 times), and then the run stops. */
async function restart(v: Victim): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await v.start();
    } catch (err) {
      process.stderr.write(`${v.name} did not start again (attempt ${attempt}): ${(err as Error).message}\n`);
      if (attempt >= 3) throw err;
      await sleep(2000);
    }
  }
}

/** Kills a random victim every 3–10 s and starts it again 0.2–2 s later; returns each kill's recovery time. */
async function chaos(all: Victim[], stack: Stack<NatsCluster>, sent: { ts: string }[], done: () => boolean) {
  const recoveries: { victim: string; ms: number }[] = [];
  while (!done()) {
    await sleep(between(3000, 10_000));
    if (done()) break;
    const v = all[Math.floor(random() * all.length)] as Victim;
    const t0 = Date.now();
    await v.kill();
    await sleep(between(200, 2000));
    await restart(v);
    const seen = progress(stack, sent).messages;
    while (!done() && progress(stack, sent).messages === seen) await sleep(100);
    recoveries.push({ victim: v.name, ms: Date.now() - t0 });
    process.stdout.write(`killed ${v.name}: next progress ${((Date.now() - t0) / 1000).toFixed(1)} s after\n`);
  }
  return recoveries;
}

/**
 * Reads a task's events from the events stream. Doubled: a step completed twice, a job finished twice, two
 * summaries — what a person would see twice or work recorded twice. Reruns: a job started in more than one run (a
 * runner SIGKILLed mid-job takes its job's process with it, and the job runs again from the start: at least once,
 * by design), counted apart as the price of the kills.
 */
async function doubledAndRerun(bus: Bus, taskId: string): Promise<{ doubles: string[]; reruns: string[] }> {
  const { js, jsm } = rawNats(bus);
  const info = await jsm.streams.info(STREAMS.events.name, { subjects_filter: SUBJECTS.taskEvents(taskId) });
  const stored = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (stored === 0) return { doubles: [], reruns: [] };
  // An ordered consumer reads from the start of the stream (its default), on the task's subjects only.
  const consumer = await js.consumers.get(STREAMS.events.name, { filter_subjects: SUBJECTS.taskEvents(taskId) });
  const counts = new Map<string, number>();
  const runs = new Map<string, number>();
  const messages = await consumer.fetch({ max_messages: stored, expires: 10_000 });
  for await (const m of messages) {
    const e = TaskEvent.parse(m.json());
    if (e.type === "job.started") runs.set(e.jobId, (runs.get(e.jobId) ?? 0) + 1);
    const key =
      e.type === "step.completed"
        ? `step ${e.stepId} completed`
        : e.type === "job.finished"
          ? `job ${e.jobId} finished`
          : e.type === "task.completed"
            ? "task completed"
            : null;
    if (key) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return {
    doubles: [...counts].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`),
    reruns: [...runs].filter(([, n]) => n > 1).map(([jobId, n]) => `job ${jobId} ran ${n} times`),
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mllead-chaos-"));
  await using cluster = await startNatsCluster();
  await using stack = await startStackOn(cluster, { MLLEAD_STREAM_REPLICAS: "3", LOG_LEVEL: "warn" });
  const specialist2 = replica("specialist-agent", {
    ...stack.env,
    ...(!SHARED_DIRS ? { MLLEAD_STATE_DIR: join(dir, "state-2"), MLLEAD_WORKSPACE_DIR: join(dir, "workspaces-2") } : {}),
  });
  const runner2 = replica("gpu-runner", { ...stack.env, RUNNER_ID: "chaos-runner-2", MLLEAD_JOBS_DIR: join(dir, "jobs-2") });
  await Promise.all([specialist2.start(), runner2.start()]);
  const started = Date.now();
  const deadline = started + BUDGET_MS;
  process.stdout.write(`chaos: ${TASKS} tasks, seed ${SEED}, budget ${BUDGET_MS / 1000} s\n`);
  let sent: { ts: string }[] = [];
  const allDone = () => Date.now() > deadline || (sent.length > 0 && progress(stack, sent).summaries.every((n) => n > 0));
  sent = await sendTasks(stack, allDone);
  const recoveries = await chaos(victims(stack, [specialist2, runner2]), stack, sent, allDone);
  const elapsed = Date.now() - started;

  const p = progress(stack, sent);
  const bus = await Bus.connect({ url: cluster.url, name: "bench-chaos", log });
  const doubles: string[] = [];
  const reruns: string[] = [];
  for (const [i, m] of sent.entries()) {
    const d = await doubledAndRerun(bus, taskIdFor(stack.sandbox.defaultChannel, m.ts, stack.sandbox.bot.teamId));
    if ((p.summaries[i] ?? 0) > 1) d.doubles.push(`summary posted ×${p.summaries[i]}`);
    if (d.doubles.length) doubles.push(`task ${i + 1}: ${d.doubles.join(", ")}`);
    if (d.reruns.length) reruns.push(`task ${i + 1}: ${d.reruns.join(", ")}`);
  }
  await bus.close();
  await explainLost(stack, sent, p.summaries, [specialist2, runner2]);
  await Promise.all([specialist2.stop(), runner2.stop()]);
  await rm(dir, { recursive: true, force: true });

  const slowest = recoveries.reduce((a, r) => (r.ms > a.ms ? r : a), { victim: "none", ms: 0 });
  const done = p.summaries.filter((n) => n > 0).length;
  process.stdout.write(
    [
      "",
      `tasks            ${TASKS}`,
      `done             ${done}`,
      `lost             ${TASKS - done}`,
      `doubled          ${doubles.length}${doubles.length ? `\n  ${doubles.join("\n  ")}` : ""}`,
      `plans revised    ${p.planned.filter((n) => n > 1).length} (a step failed; the revision approved again)`,
      `jobs rerun       ${reruns.length}${reruns.length ? ` (a runner killed mid-job)\n  ${reruns.join("\n  ")}` : ""}`,
      `kills            ${recoveries.length} (${[...new Set(recoveries.map((r) => r.victim))].join(", ")})`,
      `slowest recovery ${(slowest.ms / 1000).toFixed(1)} s (${slowest.victim})`,
      `wall time        ${(elapsed / 1000).toFixed(0)} s`,
      "",
    ].join("\n"),
  );
  if (done < TASKS || doubles.length) process.exitCode = 1;
}

await main();

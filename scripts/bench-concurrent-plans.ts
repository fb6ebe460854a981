/**
 * `pnpm bench` (concurrent plans): BENCH_PLANS_MENTIONS mentions at once (default 20) with the
 * Claude brain against a local Messages API that takes BENCH_PLAN_DELAY_MS per plan (default
 * 5000), timing each mention to its plan in the thread. With the tech lead planning tasks at
 * once, every plan lands in about one plan's time; handling one message at a time
 * (BENCH_TECH_LEAD_CONCURRENCY=1, what main did) makes the last wait for all the others.
 *
 * Runs the real stack (nats-server, the four services as processes, the Slack sandbox).
 * BENCH_PLANS_RUNS runs (default 1), each on a fresh stack; the medians across runs come last.
 */
import { TEAM_PLAN } from "@mllead/tools/claude-team";
import { startFakeAnthropic } from "@mllead/tools/fake-anthropic";
import { startStack } from "@mllead/tools/stack";

const N = Number(process.env.BENCH_PLANS_MENTIONS ?? 20);
const DELAY_MS = Number(process.env.BENCH_PLAN_DELAY_MS ?? 5000);
const RUNS = Number(process.env.BENCH_PLANS_RUNS ?? 1);
const CONCURRENCY = process.env.BENCH_TECH_LEAD_CONCURRENCY;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface Figures {
  min: number;
  p50: number;
  p95: number;
  max: number;
}

function figures(ms: number[]): Figures {
  const s = [...ms].sort((a, b) => a - b);
  return { min: s[0] ?? Number.NaN, p50: pct(s, 50), p95: pct(s, 95), max: s.at(-1) ?? Number.NaN };
}

function row(name: string, f: Figures): string {
  const c = (n: number) => `${(n / 1000).toFixed(2).padStart(7)} s`;
  return `${name.padEnd(26)} ${c(f.min)} ${c(f.p50)} ${c(f.p95)} ${c(f.max)}`;
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One run: a fresh stack, N mentions sent together, the time each waited for its plan. */
async function run(): Promise<number[]> {
  await using api = await startFakeAnthropic(async (conv) => {
    // The plan request asks for structured output in the plan schema; anything else (a summary) answers at once.
    if (!JSON.stringify(conv.outputSchema ?? {}).includes("acceptanceCriteria")) return { text: "ok" };
    await new Promise((r) => setTimeout(r, DELAY_MS));
    return { text: JSON.stringify(TEAM_PLAN) };
  });
  await using stack = await startStack({
    LOG_LEVEL: "warn",
    ANTHROPIC_API_KEY: api.apiKey,
    ANTHROPIC_BASE_URL: api.url,
    ...(CONCURRENCY ? { MLLEAD_TECH_LEAD_CONCURRENCY: CONCURRENCY } : {}),
  });
  const { sandbox } = stack;
  const channel = sandbox.defaultChannel;
  const isPlan = (m: { metadata?: { event_payload?: { event_id?: unknown } } }) =>
    String(m.metadata?.event_payload?.event_id ?? "").endsWith("task.planned");
  const start = performance.now();
  const sent = await Promise.all(Array.from({ length: N }, (_, i) => sandbox.mention(`train a churn baseline, variant ${i}`)));
  const waited: number[] = [];
  await Promise.all(
    sent.map(async (m) => {
      await waitUntil(() => sandbox.thread(channel, m.ts).some(isPlan), N * DELAY_MS + 60_000);
      waited.push(performance.now() - start);
    }),
  );
  return waited;
}

const label = `tech lead concurrency ${CONCURRENCY ?? "default (32)"}`;
process.stdout.write(`\n${N} mentions at once → plan in thread, Claude brain taking ${DELAY_MS} ms per plan (${label})\n`);
process.stdout.write(`${"".padEnd(26)} ${"min".padStart(9)} ${"p50".padStart(9)} ${"p95".padStart(9)} ${"max".padStart(9)}\n`);
const all: Figures[] = [];
for (let r = 1; r <= RUNS; r++) {
  const f = figures(await run());
  all.push(f);
  process.stdout.write(`${row(`run ${r}`, f)}\n`);
}
if (RUNS > 1) {
  const median = (k: keyof Figures) => figures(all.map((f) => f[k])).p50;
  process.stdout.write(
    `${row(`median of ${RUNS} runs`, { min: median("min"), p50: median("p50"), p95: median("p95"), max: median("max") })}\n`,
  );
}

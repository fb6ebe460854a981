/**
 * `pnpm bench`: how long a person waits, with the offline brain, from mentioning
 * @mllead to (a) the 👀 acknowledgement and (b) the plan in the thread. Runs the
 * real stack (nats-server, the four services as processes, the Slack sandbox) and
 * sends BENCH_MENTIONS mentions one after another (default 20).
 */
import { startStack } from "@mllead/tools/stack";

const N = Number(process.env.BENCH_MENTIONS ?? 20);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function row(name: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const f = (n: number) => `${n.toFixed(0).padStart(6)} ms`;
  return `${name.padEnd(22)} ${f(s[0] ?? 0)} ${f(pct(s, 50))} ${f(pct(s, 95))} ${f(s.at(-1) ?? 0)}`;
}

async function waitUntil<T>(fn: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const t0 = Date.now();
await using stack = await startStack({ LOG_LEVEL: "warn" });
const startupMs = Date.now() - t0;
const ack: number[] = [];
const plan: number[] = [];
const channel = stack.sandbox.defaultChannel;
for (let i = 0; i < N; i++) {
  const start = performance.now();
  const sent = await stack.sandbox.mention(`train a baseline on the churn table, run ${i}`);
  await waitUntil(() => (stack.sandbox.message(channel, sent.ts)?.reactions?.some((r) => r.name === "eyes") ? true : undefined));
  ack.push(performance.now() - start);
  await waitUntil(() =>
    stack.sandbox.thread(channel, sent.ts).some((m) => String(m.metadata?.event_payload?.event_id ?? "").endsWith("task.planned"))
      ? true
      : undefined,
  );
  plan.push(performance.now() - start);
}
process.stdout.write(`\nmention → thread latency, offline brain, ${N} mentions (stack started in ${startupMs} ms)\n`);
process.stdout.write(`${"".padEnd(22)} ${"min".padStart(9)} ${"p50".padStart(9)} ${"p95".padStart(9)} ${"max".padStart(9)}\n`);
process.stdout.write(`${row("👀 acknowledgement", ack)}\n${row("plan in thread", plan)}\n`);

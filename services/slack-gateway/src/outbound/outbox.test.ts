import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Outbox, type OutboxExecutor, type OutboxItem, type OutboxStore, type Priority, type RunFailure } from "./outbox.js";

interface P {
  text: string;
  method: "post" | "update";
}

class RateLimited extends Error {
  constructor(
    readonly lane: string,
    readonly ms: number,
  ) {
    super("ratelimited");
  }
}

/** A Slack stand-in that records what it was asked to do and answers 429 when a test says so. */
function fakeSlack() {
  const done: string[] = [];
  const failures: ((job: OutboxItem<P>) => Error | null)[] = [];
  const aside: string[] = [];
  const lane = (job: OutboxItem<P>) => (job.payload.method === "post" ? `chat.postMessage:${job.channel}` : "chat.update");
  const exec: OutboxExecutor<P> = {
    lanes: (job) => [lane(job)],
    run: async (job) => {
      for (const f of failures) {
        const err = f(job);
        if (err) throw err;
      }
      done.push(`${job.key}=${job.payload.text}`);
    },
    classify: (err): RunFailure =>
      err instanceof RateLimited
        ? { kind: "rate_limited", lane: err.lane, retryAfterMs: err.ms }
        : (err as Error).message === "channel_not_found"
          ? { kind: "permanent", reason: "channel_not_found" }
          : { kind: "transient", reason: (err as Error).message },
    setAside: async (job, reason) => {
      aside.push(`${job.key}: ${reason}`);
    },
  };
  /** The next run of a job on `l` is answered 429 with Retry-After `ms`. */
  const limitOnce = (l: string, ms: number) => {
    let used = false;
    failures.push((job) => {
      if (used || lane(job) !== l) return null;
      used = true;
      return new RateLimited(l, ms);
    });
  };
  return { done, aside, exec, failures, limitOnce };
}

function memoryStore(initial: OutboxItem<P>[] = []): OutboxStore<P> & { jobs: Map<string, OutboxItem<P>> } {
  const jobs = new Map(initial.map((j) => [j.key, j]));
  return {
    jobs,
    put: async (j) => {
      jobs.set(j.key, structuredClone(j));
    },
    delete: async (k) => {
      jobs.delete(k);
    },
    list: async () => [...jobs.values()],
  };
}

function job(key: string, priority: Priority, text: string, o: Partial<OutboxItem<P>> & { method?: P["method"] } = {}) {
  const { method = "post", ...rest } = o;
  return {
    key,
    priority,
    channel: "C1",
    threadTs: `th-${key.split(":")[1] ?? key}`,
    ordered: method === "post" && !key.startsWith("card:"),
    coalesce: key.startsWith("card:") || key.startsWith("job:"),
    payload: { text, method },
    ...rest,
  };
}

describe("outbox: what a person waits for goes first, updates coalesce, a 429 pauses only its lane", () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it("after a 429 in a channel, every waiting plan is posted before any status card, and five card updates become one", async () => {
    const slack = fakeSlack();
    const outbox = new Outbox(memoryStore(), slack.exec);
    await outbox.start();
    slack.limitOnce("chat.postMessage:C1", 1000);
    // As the tech lead emits them: each task's card (planning) arrives before its plan.
    for (const t of ["t1", "t2", "t3"]) {
      await outbox.enqueue(job(`card:${t}`, "progress", "planning"));
      await outbox.enqueue(job(`${t}:planned`, "person", "plan", { threadTs: `th-${t}` }));
    }
    await vi.advanceTimersByTimeAsync(0);
    // The first post was refused with Retry-After 1 s: nothing in C1 goes out meanwhile.
    expect(slack.done).toEqual([]);
    for (let i = 1; i <= 5; i++) await outbox.enqueue(job("card:t1", "progress", `awaiting approval v${i}`));
    await vi.advanceTimersByTimeAsync(999);
    expect(slack.done).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await outbox.idle();
    expect(slack.done).toEqual([
      "t1:planned=plan",
      "t2:planned=plan",
      "t3:planned=plan",
      "card:t1=awaiting approval v5",
      "card:t2=planning",
      "card:t3=planning",
    ]);
  });

  it("a 429 on one channel's posts holds neither another channel nor message updates", async () => {
    const slack = fakeSlack();
    const outbox = new Outbox(memoryStore(), slack.exec);
    await outbox.start();
    slack.limitOnce("chat.postMessage:C1", 30_000);
    await outbox.enqueue(job("a:planned", "person", "plan A"));
    await vi.advanceTimersByTimeAsync(0);
    await outbox.enqueue(job("b:planned", "person", "plan B", { channel: "C2" }));
    await outbox.enqueue(job("card:a", "progress", "update", { method: "update" }));
    await vi.advanceTimersByTimeAsync(0);
    expect(slack.done).toEqual(["b:planned=plan B", "card:a=update"]);
    await vi.advanceTimersByTimeAsync(30_000);
    await outbox.idle();
    expect(slack.done).toEqual(["b:planned=plan B", "card:a=update", "a:planned=plan A"]);
  });

  it("keeps a thread's messages in order whatever their priority, and a redelivered event is not queued twice", async () => {
    const slack = fakeSlack();
    const outbox = new Outbox(memoryStore(), slack.exec);
    await outbox.start();
    slack.limitOnce("chat.postMessage:C1", 500);
    await outbox.enqueue(job("t1:s1:started", "thread", "step started", { threadTs: "T" }));
    await outbox.enqueue(job("t1:failed", "person", "task failed", { threadTs: "T" }));
    await outbox.enqueue(job("t1:s1:started", "thread", "again"));
    await vi.advanceTimersByTimeAsync(500);
    await outbox.idle();
    expect(slack.done).toEqual(["t1:s1:started=step started", "t1:failed=task failed"]);
  });

  it("edits a message at most once per interval, newest state last, and a final state goes at once", async () => {
    const slack = fakeSlack();
    const outbox = new Outbox(memoryStore(), slack.exec);
    await outbox.start();
    const progress = (n: number, final = false) =>
      outbox.enqueue(
        job("job:j1", "progress", final ? "finished" : `step ${n}`, { method: "update", minIntervalMs: 60_000, final }),
      );
    await progress(1);
    await vi.advanceTimersByTimeAsync(0);
    for (let n = 2; n <= 5; n++) await progress(n);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(slack.done).toEqual(["job:j1=step 1"]);
    await progress(6, true);
    await vi.advanceTimersByTimeAsync(0);
    await outbox.idle();
    expect(slack.done).toEqual(["job:j1=step 1", "job:j1=finished"]);
  });

  it("sets aside what Slack refuses for good without holding the thread, retries a transient failure, and resumes after a restart", async () => {
    const slack = fakeSlack();
    let flaky = 2;
    slack.failures.push((j) => (j.channel === "C404" ? new Error("channel_not_found") : null));
    slack.failures.push((j) => (j.key === "t2:done" && flaky-- > 0 ? new Error("socket hang up") : null));
    const left = job("t9:planned", "person", "left by a crash") as OutboxItem<P>;
    const store = memoryStore([{ ...left, seq: 1, attempts: 0 }]);
    const outbox = new Outbox(store, slack.exec);
    await outbox.start();
    await outbox.enqueue(job("ghost:planned", "person", "x", { channel: "C404", threadTs: "G" }));
    await outbox.enqueue(job("t2:done", "person", "summary", { threadTs: "T2" }));
    await vi.advanceTimersByTimeAsync(10_000);
    await outbox.idle();
    expect(slack.aside).toEqual(["ghost:planned: channel_not_found"]);
    expect(slack.done).toEqual(["t9:planned=left by a crash", "t2:done=summary"]);
    expect(store.jobs.size).toBe(0);
  });
});

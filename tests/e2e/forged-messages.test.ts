/**
 * Forged messages on every NATS subject mllead uses (see tests/helpers/forgeries.ts), published
 * straight to the real nats-server while the four services run as processes with the offline brain
 * and the Slack sandbox stands in for Slack. Seeded, so a failure replays:
 * FORGED_SEED=<seed> FORGED_CASES=<n> pnpm exec vitest run tests/e2e/forged-messages.test.ts
 * (FORGED_DEBUG=1 prints every case).
 */

import { isDeepStrictEqual } from "node:util";
import { Bus } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import { BUCKETS, STREAMS, StatusQuery, StatusReply, SUBJECTS, TaskRecord, taskIdFor } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import type { SandboxMessage } from "@mllead/slack-sandbox";
import { SERVICE_NAMES } from "@mllead/tools/services";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { FORGED_JOB_PREFIX, type Forgery, type ForgeryContext, forgeries, type KnownTask } from "../helpers/forgeries.js";
import { prng } from "../helpers/fuzz.js";
import { type Stack, startStack } from "../helpers/stack.js";
import { botMessages, kindOf, visibleText } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

const SEED = Number(process.env.FORGED_SEED ?? 0xf0_12_9e_d);
const CASES = Number(process.env.FORGED_CASES ?? 1000);
const TASK = "train a baseline on the churn table and compare it with last week's model";
const log = createLogger("forged-messages", "silent");

/** What a forged message must not change: everything about a task but its bookkeeping (event counter, outbox, refusals). */
function essence(t: TaskRecord | null) {
  if (!t) return null;
  const { outbox: _o, eventSeq: _e, decisions: _d, updatedAt: _u, ...rest } = t;
  return rest;
}

/** Every message in the channel and its threads. */
function everyMessage(stack: Stack, channel: string): SandboxMessage[] {
  return stack.sandbox.history(channel).flatMap((root) => stack.sandbox.thread(channel, root.ts));
}

/** Every message of the events stream, with the task its payload names. */
async function allEvents(bus: Bus): Promise<{ seq: number; subject: string; raw: string; taskId: string | undefined }[]> {
  const info = await rawNats(bus).jsm.streams.info(STREAMS.events.name);
  const consumer = await rawNats(bus).js.consumers.get(STREAMS.events.name, { deliver_policy: DeliverPolicy.All });
  const out: { seq: number; subject: string; raw: string; taskId: string | undefined }[] = [];
  while (out.length < info.state.messages) {
    const m = await consumer.next({ expires: 5000 });
    if (!m) break;
    const raw = m.string();
    let taskId: string | undefined;
    try {
      taskId = (JSON.parse(raw) as { taskId?: string }).taskId;
    } catch {
      taskId = undefined;
    }
    out.push({ seq: m.seq, subject: m.subject, raw, taskId });
  }
  return out;
}

/** Publishes every forgery as an outsider would, a few at a time; returns what the server refused and where the events went. */
async function publishAll(stack: Stack, cases: Forgery[]): Promise<{ refused: number; eventSeqs: Set<number> }> {
  const nc = await connect({ servers: stack.nats.url, name: "forger" });
  const js = jetstream(nc);
  let refused = 0;
  const eventSeqs = new Set<number>();
  try {
    for (let i = 0; i < cases.length; i += 32) {
      await Promise.all(
        cases.slice(i, i + 32).map(async (c) => {
          if (process.env.FORGED_DEBUG) process.stderr.write(`${c.name}\n`);
          try {
            if (c.how === "request") await nc.request(c.subject, c.data, { timeout: 5000 });
            else {
              const ack = await js.publish(c.subject, c.data);
              if (ack.stream === STREAMS.events.name) eventSeqs.add(ack.seq);
            }
          } catch (err) {
            // The server itself refuses what is past its max_payload; everything else must arrive (and be answered).
            if (!/payload/i.test((err as Error).message)) throw new Error(`${c.name}: ${(err as Error).message}`);
            refused++;
          }
        }),
      );
    }
    await nc.flush();
  } finally {
    await nc.close();
  }
  return { refused, eventSeqs };
}

describe("@mllead under forged NATS messages, end to end", () => {
  it(`${CASES} seeded forgeries on every subject (seed ${SEED}): no task changes, nothing forged reaches Slack where it should not, every service stays ready, and a fresh task still completes`, async () => {
    process.stdout.write(`forged-messages: seed ${SEED} (FORGED_SEED=${SEED} replays this run)\n`);
    await using stack = await startStack();
    const { sandbox } = stack;
    const channel = sandbox.defaultChannel;
    const observer = await Bus.connect({ url: stack.nats.url, name: "observer", log });
    const tasksKv = await observer.kv(BUCKETS.tasks, TaskRecord);
    const record = async (id: string) => (await tasksKv.get(id))?.value ?? null;
    const plans = (ts: string) => botMessages(sandbox.thread(channel, ts)).filter((m) => kindOf(m) === "task.planned");
    /** What went wrong, all of it: one run shows every finding. */
    const problems: string[] = [];
    const check = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 0) => {
      try {
        if (timeoutMs > 0) await waitFor(ok, timeoutMs, what);
        else if (!(await ok())) problems.push(what);
      } catch (err) {
        problems.push((err as Error).message);
      }
    };

    async function planned(text: string): Promise<{ id: string; ts: string; planTs: string }> {
      const sent = await sandbox.mention(text);
      const id = taskIdFor(channel, sent.ts, sandbox.bot.teamId);
      await waitFor(async () => plans(sent.ts).length > 0 && (await record(id))?.state === "awaiting_approval", 20_000, "a plan");
      return { id, ts: sent.ts, planTs: (plans(sent.ts)[0] as SandboxMessage).ts };
    }
    const known = async (t: { id: string; ts: string }): Promise<KnownTask> => ({
      id: t.id,
      threadTs: t.ts,
      record: (await record(t.id)) as TaskRecord,
    });

    // With no specialist running, an approved task stays where it is: its first step dispatched, waiting.
    await stack.kill("specialist-agent");
    const [p, e, c] = await Promise.all([
      planned(`${TASK} (waits for approval)`),
      planned(`${TASK} (approved)`),
      planned(`${TASK} (cancelled)`),
    ]);
    await sandbox.click(e.planTs, "mllead_approve");
    await sandbox.click(c.planTs, "mllead_cancel");
    await waitFor(
      async () => {
        const [re, rc] = [await record(e.id), await record(c.id)];
        return Object.values(re?.steps ?? {}).some((s) => s.status === "dispatched") && rc?.state === "cancelled";
      },
      20_000,
      "the approval and the cancellation",
    );
    const ctx: ForgeryContext = {
      pending: await known(p),
      executing: await known(e),
      finished: await known(c),
      channel,
      requester: sandbox.humanUserId,
      planTs: p.planTs,
    };
    const before = new Map([ctx.pending, ctx.executing, ctx.finished].map((t) => [t.id, t.record]));

    // Whenever a job starts, a message no tech lead sent says its task was cancelled (the task is alive).
    const hook = await connect({ servers: stack.nats.url, name: "forger-hook" });
    hook.subscribe("mllead.evt.task.*.job.*.started", {
      callback: (_err, m) => {
        const taskId = m.subject.split(".")[3] as string;
        hook.publish(
          `mllead.evt.task.${taskId}.task.cancelled`,
          JSON.stringify({ v: 1, taskId: "tForgedCancel", what: "FORGEDH-0-" }),
        );
      },
    });

    const maxPayload = rawNats(observer).nc.info?.max_payload ?? 1024 * 1024;
    const cases = forgeries(prng(SEED), ctx, CASES, maxPayload);
    const sent = await publishAll(stack, cases);
    expect(sent.refused).toBeGreaterThan(0);
    const stranger = await observer.request(SUBJECTS.statusQuery, StatusQuery, StatusReply, { v: 1, userId: "U0EVIL" });
    await check(
      "a stranger's /mllead status shows no task",
      () => stranger.ok && stranger.active.length + stranger.recent.length === 0,
    );

    // Everything forged on the tech lead's own queues is handled (no message left to retry).
    const depth = async (stream: string) => (await observer.streamState(stream)).messages;
    const results = async () => rawNats(observer).jsm.consumers.info(STREAMS.events.name, "tech-lead-results");
    await check("the command queue to empty", async () => (await depth(STREAMS.commands.name)) === 0, 30_000);
    await check(
      "every step report handled",
      async () => {
        const i = await results();
        return i.num_pending === 0 && i.num_ack_pending === 0;
      },
      30_000,
    );

    // No task changed because of a forged message.
    for (const [id, was] of before) {
      const now = await record(id);
      await check(`task ${id} unchanged (was ${was.state}, is ${now?.state}: ${JSON.stringify(essence(now)?.steps)})`, () =>
        isDeepStrictEqual(essence(now), essence(was)),
      );
    }
    // The tech lead said what it ignored, with the task, step, attempt and reason.
    await check("a log line for each ignored step report", () =>
      stack
        .logs("tech-lead")
        .map(parseLine)
        .some(
          (l) =>
            l.msg === "ignored a step report" &&
            l.taskId === e.id &&
            typeof l.stepId === "string" &&
            typeof l.attempt === "number" &&
            typeof l.reason === "string",
        ),
    );

    // The approved task is cancelled by its requester; then the specialists come back and take what is queued.
    await sandbox.reply(e.ts, "cancel");
    await check("the approved task's cancellation", async () => (await record(e.id))?.state === "cancelled", 20_000);
    const specialists = stack.start("specialist-agent");

    // A fresh task goes all the way: mention, plan, approval, steps with a real job, summary.
    const f = await planned(TASK);
    await sandbox.click(f.planTs, "mllead_approve");
    await specialists;
    await check(
      "the fresh task's summary",
      () => botMessages(sandbox.thread(channel, f.ts)).some((m) => kindOf(m) === "task.completed"),
      90_000,
    );
    await check("the fresh task is done", async () => (await record(f.id))?.state === "done");
    await check(
      "the work queues to empty",
      async () => (await depth(STREAMS.steps.name)) + (await depth(STREAMS.gpu.name)) === 0,
      30_000,
    );
    await hook.close();

    // Still no change to the task that waits, and no task but the four.
    await check("the waiting task still unchanged after the specialists took the queue", async () =>
      isDeepStrictEqual(essence(await record(p.id)), essence(before.get(p.id) ?? null)),
    );
    const keys = (await tasksKv.keys()).sort();
    await check(`no task but the four (${keys.join(", ")})`, () => isDeepStrictEqual(keys, [p.id, e.id, c.id, f.id].sort()));

    // Nothing a service published echoes a forged marker or is about a forged job of a task that exists.
    const live = new Set(keys);
    for (const { seq, subject, raw, taskId } of await allEvents(observer)) {
      if (sent.eventSeqs.has(seq) || !taskId || !live.has(taskId)) continue;
      if (/FORGED[HS]-\d+-/.test(raw) || raw.includes(`"jobId":"${FORGED_JOB_PREFIX}`))
        problems.push(`a service published forged content on ${subject}: ${raw.slice(0, 300)}`);
    }

    // Slack: no hidden marker anywhere; a shown one only in the thread of the task its subject names.
    const hidden = JSON.stringify(sandbox.calls()).match(/FORGEDH-\d+-/g) ?? [];
    for (const m of new Set(hidden)) problems.push(`${m} reached Slack: ${cases.find((x) => x.marker === m)?.name}`);
    const threadOfShown = new Map(cases.filter((x) => x.thread).map((x) => [x.marker, x.thread]));
    for (const m of everyMessage(stack, channel)) {
      for (const found of new Set(visibleText(m).match(/FORGEDS-\d+-/g) ?? [])) {
        if ((m.thread_ts ?? m.ts) !== threadOfShown.get(found))
          problems.push(`${found} in another thread (${m.thread_ts ?? m.ts})`);
      }
    }

    // Every service is alive and ready.
    for (const name of SERVICE_NAMES) {
      const s = stack.services.get(name);
      await check(`${name} alive`, () => s?.proc.exitCode === null);
      const res = await fetch(`${await s?.ready}/readyz`);
      await check(`${name} /readyz`, () => res.status === 200);
    }
    await observer.close();
    expect(problems).toEqual([]);
  }, 240_000);
});

function parseLine(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return {};
  }
}

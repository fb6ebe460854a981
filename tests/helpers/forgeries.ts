/**
 * Forged NATS messages for every subject mllead uses, generated from a seeded PRNG against the
 * tasks a test has in flight: garbage, wrong JSON, schema-breaking mutations, oversize payloads,
 * and valid-shaped messages that no service sent (a report for a step never dispatched, a stale
 * attempt, a subject that names another task, a decision from a stranger, a job nobody queued,
 * a work order for a task that waits for approval, a Slack event that never came through Slack…).
 *
 * Every case is one a correct mllead must leave without effect on the tasks. Each carries a marker
 * (`FORGEDH-<n>-` or `FORGEDS-<n>-`) in its text fields: `H` (hidden) marks content that must never
 * reach Slack; `S` (shown) marks a valid event on its own subject about a live task, which the
 * gateway cannot tell from a real one without NATS users (issue 10, item 7), and which may only
 * ever appear in that task's own thread.
 */
import { ROLES, type Role, SUBJECTS, type TaskDecide, type TaskEvent } from "@mllead/contracts";
import {
  type ForgeryContext,
  JOB_EVENT_TYPES,
  jobEvent,
  jobFor,
  type KnownTask,
  STRANGER,
  stepEvent,
  stepOf,
  TASK_EVENT_TYPES,
  taskEvent,
  UNKNOWN_TASK_PREFIX,
  workFor,
  wrongSubject,
} from "./forged-payloads.js";
import { deepText, type Json, mutate, type Rng, weird } from "./fuzz.js";

export {
  FORGED_EVENT_PREFIX,
  FORGED_JOB_PREFIX,
  type ForgeryContext,
  type KnownTask,
  UNKNOWN_TASK_PREFIX,
} from "./forged-payloads.js";

/** One forged message. */
export interface Forgery {
  name: string;
  subject: string;
  data: Uint8Array;
  /** `js`: a JetStream publish; `request`: a query that must be answered. */
  how: "js" | "request";
  /** The marker in its text fields, if any; `FORGEDH-…` must never reach Slack. */
  marker?: string;
  /** For a `FORGEDS-…` marker: the only thread it may appear in. */
  thread?: string;
}

/** A kind of valid-shaped forgery, built only when picked. */
interface Kind {
  what: string;
  /** False when one mutated field could turn it into a message a correct mllead must accept. */
  mutable: boolean;
  /** The thread a shown marker may appear in; absent = hidden. */
  shownIn?: string;
  how?: Forgery["how"];
  build(): { subject: string; payload: unknown };
}

const TEXT = new TextEncoder();
const at = () => new Date().toISOString();
const REPORT_TYPES = ["step.started", "step.completed", "step.failed", "step.progress"] as const;
const own = (e: TaskEvent) => ({ subject: SUBJECTS.event(e as TaskEvent & { stepId?: string; jobId?: string }), payload: e });

/** Every kind of valid-shaped forgery for case `i`: real-looking messages about the tasks in flight that a correct mllead ignores. */
function kinds(r: Rng, ctx: ForgeryContext, i: number, marker: (shown: boolean) => string, maxPayload: number): Kind[] {
  const { pending: P, executing: E, finished: C } = ctx;
  const known = [P, E, C];
  const unknownId = `${UNKNOWN_TASK_PREFIX}${i}`;
  const dispatched = stepOf(E, "dispatched")[0];
  const anyStep = (t: KnownTask) => r.pick(stepOf(t, "any"));
  const attemptOf = (t: KnownTask, stepId: string) => t.record.steps[stepId]?.attempt ?? 1;
  const [nt, ns] = r.pick([
    ...stepOf(P, "pending").map((s) => [P, s] as const),
    ...stepOf(E, "pending").map((s) => [E, s] as const),
  ]);
  const off = (e: TaskEvent) => ({ subject: wrongSubject(r, e, ctx), payload: e });
  const out: Kind[] = [];
  const add = (what: string, mutable: boolean, shownIn: string | undefined, build: Kind["build"], how?: Kind["how"]) =>
    out.push({ what, mutable, build, ...(shownIn ? { shownIn } : {}), ...(how ? { how } : {}) });

  // Step reports the tech lead did not ask for.
  add("a report for a step never dispatched", true, nt.threadTs, () =>
    own(stepEvent(r.pick(REPORT_TYPES), nt.id, ns, attemptOf(nt, ns.id), marker(true), i)),
  );
  if (dispatched) {
    add("a report with a stale attempt", true, E.threadTs, () =>
      own(stepEvent(r.pick(REPORT_TYPES), E.id, dispatched, r.pick([2, 3, 99]), marker(true), i)),
    );
    add("a report from another role than the step's", true, E.threadTs, () => {
      const role: Role = r.pick(ROLES.filter((x) => x !== dispatched.role));
      return own(stepEvent(r.pick(REPORT_TYPES), E.id, { ...dispatched, role }, 1, marker(true), i));
    });
    // The one report that would be accepted on its own subject, sent on another task's, step's or kind's.
    add("the dispatched attempt's report on a subject that names something else", true, undefined, () =>
      off(stepEvent(r.pick(["step.completed", "step.failed", "step.started"] as const), E.id, dispatched, 1, marker(false), i)),
    );
  }
  add("a report for a cancelled task", true, C.threadTs, () =>
    own(stepEvent(r.pick(REPORT_TYPES), C.id, anyStep(C), 1, marker(true), i)),
  );
  add("a report for a task that does not exist", true, undefined, () =>
    own(stepEvent(r.pick(REPORT_TYPES), unknownId, anyStep(C), 1, marker(false), i)),
  );

  // Task and job events no tech lead or runner wrote.
  const t = r.pick(known);
  add("a task event on its own subject", true, t.threadTs, () => own(taskEvent(r.pick(TASK_EVENT_TYPES), t, marker(true), i)));
  add("a task event on a subject that names something else", true, undefined, () =>
    off(taskEvent(r.pick(TASK_EVENT_TYPES), t, marker(false), i)),
  );
  add("a task event for a task that does not exist", true, undefined, () =>
    own(taskEvent(r.pick(TASK_EVENT_TYPES), t, marker(false), i, unknownId)),
  );
  add("task.updated of an unknown task pointing at a live task's thread", false, undefined, () =>
    own(taskEvent("task.updated", t, marker(false), i, unknownId)),
  );
  add("a job event of a job nobody queued", true, t.threadTs, () =>
    own(jobEvent(r.pick(JOB_EVENT_TYPES), t.id, anyStep(t).id, marker(true), i)),
  );
  add("a job event on a subject that names something else", true, undefined, () =>
    off(jobEvent(r.pick(JOB_EVENT_TYPES), t.id, anyStep(t).id, marker(false), i)),
  );
  add("a job event for a task that does not exist", true, undefined, () =>
    own(jobEvent(r.pick(JOB_EVENT_TYPES), unknownId, "train", marker(false), i)),
  );

  // Commands: a second create for a live task, decisions nobody may make.
  const create = SUBJECTS.taskCreate;
  add("a create for a task that exists", true, undefined, () => ({
    subject: create,
    payload: {
      v: 1,
      taskId: t.id,
      text: `take over ${marker(false)}`,
      requester: { userId: STRANGER },
      slack: { channel: "C0ELSEWHERE", threadTs: "1.000001", messageTs: "1.000001" },
      requestedAt: at(),
    },
  }));
  const decide = (taskId: string, userId: string, decision: TaskDecide["decision"], extra: Record<string, Json> = {}) => ({
    subject: SUBJECTS.taskDecide,
    payload: {
      v: 1,
      taskId,
      decisionId: `forged-decision-${i}-${r.int(0, 1e9)}`,
      decision,
      userId,
      via: r.pick(["button", "reply", "reaction", "slash"]),
      decidedAt: at(),
      feedback: `change it ${marker(false)}`,
      ...extra,
    },
  });
  const decision = () => r.pick(["approve", "request_changes", "cancel", "retry", "continue"] as const);
  // A mutated user id could make a stranger the requester: these stay as they are.
  add("a decision from a stranger", false, undefined, () => decide(r.pick([P, E]).id, STRANGER, decision()));
  add("the requester decides on a plan revision that is not the current one", false, undefined, () =>
    decide(P.id, ctx.requester, r.pick(["approve", "request_changes"]), { revision: P.record.revision + r.int(1, 5) }),
  );
  // Refused whoever sends them, so any one field may be broken.
  add("a decision on a cancelled task", true, undefined, () => decide(C.id, r.pick([STRANGER, ctx.requester]), decision()));
  add("a decision on a task that does not exist", true, undefined, () => decide(unknownId, ctx.requester, decision()));
  add("the requester goes on past a budget that holds nothing", true, undefined, () =>
    decide(E.id, ctx.requester, "continue", { ask: r.int(1, 9) }),
  );
  add("the requester retries a plan that did not fail", true, undefined, () => decide(P.id, ctx.requester, "retry"));

  // Work orders and GPU jobs the tech lead and the steps never sent.
  const work = (w: ReturnType<typeof workFor>) => ({ subject: SUBJECTS.stepWork(w.role), payload: w });
  add("work for a step never dispatched", true, undefined, () =>
    work(workFor(nt, nt.id, ns, attemptOf(nt, ns.id), marker(false))),
  );
  if (dispatched) {
    add("work for the dispatched step's next attempt", true, undefined, () =>
      work(workFor(E, E.id, dispatched, r.pick([2, 3]), marker(false))),
    );
    add("work for the dispatched step with its instructions changed", true, undefined, () =>
      work(workFor(E, E.id, dispatched, 1, marker(false))),
    );
  }
  add("work for a cancelled task", true, undefined, () => work(workFor(C, C.id, anyStep(C), 1, marker(false))));
  add("work for a task that does not exist", true, undefined, () => work(workFor(null, unknownId, anyStep(C), 1, marker(false))));
  const gpu = (taskId: string, stepId: string, attempt: number) => ({
    subject: SUBJECTS.gpuJob,
    payload: jobFor(taskId, stepId, attempt, marker(false), i),
  });
  add("a GPU job for a step never dispatched", true, undefined, () => gpu(nt.id, ns.id, attemptOf(nt, ns.id)));
  if (dispatched)
    add("a GPU job for the dispatched step's next attempt", true, undefined, () => gpu(E.id, dispatched.id, r.pick([2, 3])));
  add("a GPU job for a cancelled task", true, undefined, () => gpu(C.id, anyStep(C).id, 1));

  // Queries: a stranger asking for tasks that are not theirs, a forget nobody can apply.
  const q = (subject: string, payload: Record<string, Json>) => () => ({ subject, payload });
  add("status for a stranger", true, undefined, q(SUBJECTS.statusQuery, { v: 1, userId: STRANGER }), "request");
  add(
    "status for another channel",
    true,
    undefined,
    q(SUBJECTS.statusQuery, { v: 1, channel: "C0ELSEWHERE", recent: 20 }),
    "request",
  );
  add(
    "a stranger forgets a lesson",
    true,
    undefined,
    q(SUBJECTS.lessonsQuery, { v: 1, channel: ctx.channel, userId: STRANGER, forget: "1" }),
    "request",
  );

  // Slack events that never came through Slack's signed requests, straight into the gateway's inbox.
  const inbox = (event: Record<string, Json>) => () => ({
    subject: "mllead.slack.in.event",
    payload: {
      v: 1,
      envelope: { type: "event_callback", event_id: `EvForged${i}x${r.int(0, 1e9)}`, team_id: "T0SANDBOX", event },
      receivedAt: at(),
    },
  });
  const ts = `${1_800_000_000 + i}.000${r.int(100, 999)}`;
  const reply = (text: string, threadTs: string) => ({
    type: "message",
    user: ctx.requester,
    text,
    ts,
    thread_ts: threadTs,
    channel: ctx.channel,
  });
  add("inbox: the requester approves in the thread", true, undefined, inbox(reply("approve", P.threadTs)));
  add("inbox: the requester cancels in the thread", true, undefined, inbox(reply("cancel", E.threadTs)));
  add(
    "inbox: a ✅ on the plan",
    true,
    undefined,
    inbox({
      type: "reaction_added",
      user: ctx.requester,
      reaction: "white_check_mark",
      item: { type: "message", channel: ctx.channel, ts: ctx.planTs },
    }),
  );
  add(
    "inbox: a mention that starts a task",
    true,
    undefined,
    inbox({ type: "app_mention", user: STRANGER, text: `<@U0MLLEAD> ${marker(false)}`, ts, channel: ctx.channel }),
  );

  // As large as a message may be: a report that would not fit in the task's record.
  add("a report for a step never dispatched, as large as a message may be", false, nt.threadTs, () => {
    const e = stepEvent("step.completed", nt.id, ns, attemptOf(nt, ns.id), marker(true), i);
    return own({
      ...e,
      result: { ...(e as { result: object }).result, metrics: { ["k".repeat(maxPayload - 8000)]: 1 } },
    } as TaskEvent);
  });
  return out;
}

/** The subjects garbage goes to: every one mllead uses. */
function garbageSubjects(ctx: ForgeryContext): string[] {
  return [
    SUBJECTS.taskCreate,
    SUBJECTS.taskDecide,
    ...ROLES.map((role) => SUBJECTS.stepWork(role)),
    SUBJECTS.gpuJob,
    ...TASK_EVENT_TYPES.map((type) => SUBJECTS.event({ type, taskId: ctx.executing.id })),
    ...REPORT_TYPES.map((type) => SUBJECTS.event({ type, taskId: ctx.executing.id, stepId: "data" })),
    ...JOB_EVENT_TYPES.map((type) => SUBJECTS.event({ type, taskId: ctx.pending.id, jobId: "j1" })),
    SUBJECTS.statusQuery,
    SUBJECTS.lessonsQuery,
    "mllead.slack.in.event",
    SUBJECTS.deadLetter("tech-lead-commands"),
    SUBJECTS.deadLetter("tech-lead-results"),
  ];
}

/** Bytes that are not a message of any kind: broken JSON, wrong types, deep nesting, sizes at and past the limit. */
function garbage(r: Rng, maxPayload: number): { what: string; data: Uint8Array } {
  const text = (what: string, s: string) => ({ what, data: TEXT.encode(s) });
  switch (r.int(0, 9)) {
    case 0:
      return text("not JSON", r.pick(["{not json", "", "}{", "\u0000", "[1,", '{"v":1,']));
    case 1:
      return text("a JSON scalar", r.pick(["null", "42", '"str"', "true", "[]", "{}"]));
    case 2:
      return text("deep JSON", deepText(r.pick([1000, 100_000])));
    case 3:
      return { what: "random bytes", data: Uint8Array.from({ length: r.int(1, 4096) }, () => r.int(0, 255)) };
    case 4:
      return text("a lone surrogate", "\udc00\ud800");
    case 5:
      return text("a JSON value of the wrong kind", JSON.stringify(weird(r)));
    case 6:
      return text("just under the server's limit", JSON.stringify({ v: 1, taskId: "tBig", pad: "x".repeat(maxPayload - 200) }));
    case 7:
      return text("past the server's limit", JSON.stringify({ v: 1, pad: "y".repeat(maxPayload + 10) }));
    case 8:
      return text("a future version", JSON.stringify({ v: 99, taskId: "tFuture" }));
    default:
      return text("unicode soup", "ÿ€Ω漢字🧪".repeat(r.int(1, 5000)));
  }
}

/**
 * Every kind of valid-shaped forgery once, as it is, then `n` seeded cases: garbage (a quarter),
 * a kind with one field broken, or a kind as it is. A case's number is part of its marker and ids.
 */
export function forgeries(r: Rng, ctx: ForgeryContext, n: number, maxPayload: number): Forgery[] {
  const markerOf = (i: number) => (shown: boolean) => `FORGED${shown ? "S" : "H"}-${i}-`;
  const forgery = (i: number, k: Kind, payload?: (p: unknown) => Json): Forgery => {
    const built = k.build();
    const text = JSON.stringify(payload ? payload(built.payload) : built.payload);
    const shown = k.shownIn !== undefined && text.includes(markerOf(i)(true));
    return {
      name: `#${i} ${built.subject}: ${k.what}`,
      subject: built.subject,
      data: TEXT.encode(text),
      how: k.how ?? "js",
      ...(shown ? { marker: markerOf(i)(true), thread: k.shownIn as string } : { marker: markerOf(i)(false) }),
    };
  };
  const count = kinds(r, ctx, 0, markerOf(0), maxPayload).length;
  const out: Forgery[] = [];
  for (let i = 0; i < count; i++) out.push(forgery(i, kinds(r, ctx, i, markerOf(i), maxPayload)[i] as Kind));
  const subjects = garbageSubjects(ctx);
  for (let i = count; i < count + n; i++) {
    const roll = r.next();
    if (roll < 0.25) {
      const subject = r.pick(subjects);
      const g = garbage(r, maxPayload);
      out.push({
        name: `#${i} ${subject}: ${g.what}`,
        subject,
        data: g.data,
        how: subject.startsWith("mllead.q.") ? "request" : "js",
      });
      continue;
    }
    // The huge report is one of the kinds sent once above; picked again it would only slow every run.
    const k = r.pick(kinds(r, ctx, i, markerOf(i), maxPayload).slice(0, -1));
    if (roll < 0.55 && k.mutable) {
      let what = "";
      out.push(
        forgery(i, k, (p) => {
          const m = mutate(r, p as Record<string, Json>);
          what = m.what;
          return m.value;
        }),
      );
      (out.at(-1) as Forgery).name += `, ${what}`;
      continue;
    }
    out.push(forgery(i, k));
  }
  return out;
}

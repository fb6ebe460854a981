import { callNoun } from "@mllead/brain";
import type { Plan, StepState, TaskCreate, TaskDecide, TaskRecord } from "@mllead/contracts";
import { answersFeedback, isTerminal, openQuestions, topologicalOrder } from "@mllead/contracts";
import { budgetStopReason, goOn } from "./cost.js";
import { dispatchReady } from "./execution.js";
import { retryCall } from "./lead-failures.js";
import { pushEvent, pushUpdated } from "./outbox.js";
import { draft, MAX_REMEMBERED_DECISIONS, moveTo, type Policy, skipUnfinished } from "./task-draft.js";

/** A new task, straight into planning. */
export function createTask(cmd: TaskCreate, now: string): TaskRecord {
  const task: TaskRecord = {
    v: 1,
    id: cmd.taskId,
    text: cmd.text,
    requester: cmd.requester,
    slack: cmd.slack,
    state: "requested",
    revision: 0,
    steps: {},
    reviewRounds: 0,
    replans: 0,
    feedback: [],
    createdAt: now,
    updatedAt: now,
    outbox: [],
    eventSeq: 0,
    decisions: [],
  };
  moveTo(task, "planning");
  pushUpdated(task, now);
  return task;
}

function sameStep(a: Plan["steps"][number], b: Plan["steps"][number]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The step states for a new plan. After a re-plan, a step that already completed
 * and is unchanged — with everything it depends on also kept — keeps its result;
 * every other step that ran before starts over with a higher attempt number, so
 * its work message, job and events are new (and not dropped as duplicates).
 */
function carryOver(current: TaskRecord, plan: Plan): Record<string, StepState> {
  const out: Record<string, StepState> = {};
  for (const step of topologicalOrder(plan)) {
    const old = current.steps[step.id];
    const oldDef = current.plan?.steps.find((s) => s.id === step.id);
    const keep =
      old?.status === "completed" &&
      oldDef !== undefined &&
      sameStep(oldDef, step) &&
      step.dependsOn.every((d) => out[d]?.status === "completed");
    if (keep) out[step.id] = old;
    else
      out[step.id] = {
        status: "pending",
        attempt: old && old.status !== "pending" ? old.attempt + 1 : (old?.attempt ?? 1),
        findings: [],
        // What the step's earlier attempts cost stays counted against it.
        ...(old?.usage ? { usage: old.usage } : {}),
      };
  }
  return out;
}

/** A (re)plan arrived: show it and wait for a person. */
export function applyPlan(current: TaskRecord, plan: Plan, now: string): TaskRecord {
  const task = draft(current);
  moveTo(task, "awaiting_approval");
  task.plan = plan;
  task.revision += 1;
  // Answers belong to the questions of the plan they answered; the revision carries them in its feedback.
  delete task.answers;
  task.steps = carryOver(current, plan);
  const lastFeedback = task.feedback.at(-1)?.text;
  pushEvent(
    task,
    {
      type: "task.planned",
      revision: task.revision,
      plan,
      requester: task.requester.userId,
      ...(lastFeedback && task.revision > 1 ? { feedback: lastFeedback } : {}),
    },
    now,
  );
  pushUpdated(task, now);
  return task;
}

function rememberDecision(task: TaskRecord, decisionId: string): void {
  task.decisions = [...task.decisions, decisionId].slice(-MAX_REMEMBERED_DECISIONS);
}

function reject(current: TaskRecord, cmd: TaskDecide, reason: string, now: string): TaskRecord {
  const task = draft(current);
  rememberDecision(task, cmd.decisionId);
  pushEvent(task, { type: "task.decision_rejected", userId: cmd.userId, decision: cmd.decision, reason }, now);
  return task;
}

/**
 * A person approved, asked for changes or cancelled. Returns null when the
 * decision was already applied (a redelivery). Unauthorised or out-of-place
 * decisions are answered with `task.decision_rejected`, which the gateway shows
 * only to that person.
 */
export function applyDecision(current: TaskRecord, cmd: TaskDecide, policy: Policy, now: string): TaskRecord | null {
  if (current.decisions.includes(cmd.decisionId)) return null;
  const allowed = cmd.userId === current.requester.userId || policy.approvers.includes(cmd.userId);
  if (!allowed) {
    return reject(current, cmd, `Only <@${current.requester.userId}> (who asked) or an approver can decide on this plan.`, now);
  }
  if (isTerminal(current.state)) {
    return reject(current, cmd, `This task is already ${current.state}.`, now);
  }
  if (cmd.decision === "cancel") {
    const task = draft(current);
    rememberDecision(task, cmd.decisionId);
    moveTo(task, "cancelled");
    skipUnfinished(task);
    const reason = budgetStopReason(current) ?? `cancelled by <@${cmd.userId}>`;
    pushEvent(task, { type: "task.cancelled", userId: cmd.userId, reason }, now);
    pushUpdated(task, now);
    return task;
  }
  if (cmd.decision === "retry" || cmd.decision === "continue") {
    // `retry` runs a failed plan or summary again (the app drives the task next); `continue` goes on past the budget.
    const task = cmd.decision === "retry" ? retryCall(current, cmd.userId, now) : goOn(current, cmd, now);
    if (typeof task === "string") return reject(current, cmd, task, now);
    rememberDecision(task, cmd.decisionId);
    dispatchReady(task, now);
    pushUpdated(task, now);
    return task;
  }
  if (current.state !== "awaiting_approval") {
    const why = current.brainFailure
      ? `Claude could not write ${callNoun(current.brainFailure.call)} yet: press Retry or reply \`retry\` first.`
      : current.state === "planning" || current.state === "revising"
        ? "The plan is still being written; decide once it is in the thread."
        : "This plan was already approved and is running.";
    return reject(current, cmd, why, now);
  }
  if (cmd.revision !== undefined && cmd.revision !== current.revision) {
    return reject(
      current,
      cmd,
      `That was revision ${cmd.revision} of the plan; the current one is revision ${current.revision}.`,
      now,
    );
  }
  const open = openQuestions(current);
  if (cmd.decision === "answer") return applyAnswer(current, cmd, now);
  if (cmd.decision === "approve" && open.length > 0) {
    const list = open.map((q) => `“${q.text}”`).join(" ");
    return reject(
      current,
      cmd,
      `The plan asks ${open.length === 1 ? "a question" : `${open.length} questions`} first: ${list} Answer with the buttons or a reply \`answer: …\`; the revised plan can then be approved.`.slice(
        0,
        500,
      ),
      now,
    );
  }
  const task = draft(current);
  rememberDecision(task, cmd.decisionId);
  if (cmd.decision === "approve") {
    moveTo(task, "executing");
    task.approvedBy = cmd.userId;
    pushEvent(task, { type: "task.approved", userId: cmd.userId, via: cmd.via }, now);
    dispatchReady(task, now);
    pushUpdated(task, now);
    return task;
  }
  const feedback = cmd.feedback?.trim();
  if (!feedback) {
    return reject(current, cmd, "Say what to change, e.g. reply `changes: train for 20 epochs`.", now);
  }
  moveTo(task, "revising");
  task.feedback.push({ userId: cmd.userId, text: feedback, at: now });
  pushEvent(task, { type: "task.changes_requested", userId: cmd.userId, feedback }, now);
  pushUpdated(task, now);
  return task;
}

/**
 * A person answered the plan's open questions: by button (one question, the index of a choice the plan
 * offered) or by reply (its text answers every open question). While some stay open the answer is said in
 * the thread (`task.question_answered`); once none is, the plan is revised with every answer as feedback,
 * as a change request would be, and the revision can be approved.
 */
function applyAnswer(current: TaskRecord, cmd: TaskDecide, now: string): TaskRecord {
  const open = openQuestions(current);
  if (open.length === 0) {
    return reject(current, cmd, "This plan has no open question: reply `approve`, or `changes: …` to revise it.", now);
  }
  const given: { id: string; question: string; text: string }[] = [];
  if (cmd.answers) {
    for (const a of cmd.answers) {
      const q = open.find((x) => x.id === a.questionId);
      const choice = q?.choices?.[a.choice];
      if (!q) return reject(current, cmd, `The question \`${a.questionId}\` is answered already or not in this plan.`, now);
      if (!choice) return reject(current, cmd, `The question “${q.text.slice(0, 200)}” has no choice ${a.choice + 1}.`, now);
      given.push({ id: q.id, question: q.text, text: choice });
    }
  } else {
    const text = cmd.feedback?.trim();
    if (!text) return reject(current, cmd, "Say the answer, e.g. reply `answer: the label is churned_30d`.", now);
    for (const q of open) given.push({ id: q.id, question: q.text, text: text.slice(0, 1000) });
  }
  const task = draft(current);
  rememberDecision(task, cmd.decisionId);
  task.answers = [
    ...(task.answers ?? []),
    ...given.map((g) => ({ revision: task.revision, questionId: g.id, text: g.text, userId: cmd.userId, at: now })),
  ].slice(-20);
  const left = openQuestions(task).length;
  if (left > 0) {
    for (const g of given) {
      pushEvent(
        task,
        {
          type: "task.question_answered",
          userId: cmd.userId,
          questionId: g.id,
          question: g.question,
          answer: g.text,
          open: left,
        },
        now,
      );
    }
    pushUpdated(task, now);
    return task;
  }
  const feedback = answersFeedback(task);
  moveTo(task, "revising");
  task.feedback.push({ userId: cmd.userId, text: feedback, at: now });
  pushEvent(task, { type: "task.changes_requested", userId: cmd.userId, feedback, answers: true }, now);
  pushUpdated(task, now);
  return task;
}

/** True when a plan must be (re)written: planning, or revising after feedback. */
export function needsPlan(task: TaskRecord): boolean {
  return task.state === "planning" || task.state === "revising";
}

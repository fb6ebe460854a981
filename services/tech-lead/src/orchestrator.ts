import {
  ancestors,
  type Finding,
  isTerminal,
  type Plan,
  type StepState,
  type TaskCreate,
  type TaskDecide,
  type TaskEvent,
  type TaskRecord,
  type TaskState,
  topologicalOrder,
  transition,
  type UpstreamResult,
} from "@mllead/contracts";
import { pushEvent, pushUpdated, pushWork } from "./outbox.js";

/**
 * The tech lead's decisions as pure functions: each takes a stored task and an
 * input and returns the next task, with what must be published appended to its
 * outbox. Nothing here does I/O, so every rule is unit-tested directly.
 */

export interface Policy {
  /** Slack user ids allowed to approve besides the requester. */
  approvers: readonly string[];
  maxReviewRounds: number;
  /** How many times a failed step may send the task back to planning before it fails. */
  maxReplans: number;
}

/** States in which ready steps are handed to the specialists. */
const WORKING: readonly TaskState[] = ["executing", "reviewing", "fixing"];

const MAX_REMEMBERED_DECISIONS = 50;

function draft(task: TaskRecord): TaskRecord {
  return structuredClone(task);
}

function moveTo(task: TaskRecord, to: TaskState): void {
  task.state = transition(task.state, to);
}

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

/** Planning failed for good (the brain could not produce a valid plan). */
export function failTask(current: TaskRecord, reason: string, now: string, stepId?: string): TaskRecord {
  const task = draft(current);
  moveTo(task, "failed");
  task.failure = reason.slice(0, 2000);
  skipUnfinished(task);
  pushEvent(task, { type: "task.failed", reason: task.failure, ...(stepId ? { stepId } : {}) }, now);
  pushUpdated(task, now);
  return task;
}

function skipUnfinished(task: TaskRecord): void {
  for (const s of Object.values(task.steps)) {
    if (s.status === "pending" || s.status === "dispatched" || s.status === "running") s.status = "skipped";
  }
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
    pushEvent(task, { type: "task.cancelled", userId: cmd.userId, reason: `cancelled by <@${cmd.userId}>` }, now);
    pushUpdated(task, now);
    return task;
  }
  if (current.state !== "awaiting_approval") {
    const why =
      current.state === "planning" || current.state === "revising"
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

function resultsOf(task: TaskRecord, ids: Iterable<string>): UpstreamResult[] {
  const out: UpstreamResult[] = [];
  for (const step of task.plan?.steps ?? []) {
    const st = task.steps[step.id];
    if (![...ids].includes(step.id) || st?.status !== "completed" || !st.result) continue;
    out.push({ stepId: step.id, role: step.role, title: step.title, result: st.result });
  }
  return out;
}

/** Dispatches every pending step whose dependencies are all complete. */
export function dispatchReady(task: TaskRecord, now: string): void {
  const plan = task.plan;
  // While a new plan is written or waits for a person, nothing new starts.
  if (!plan || !WORKING.includes(task.state)) return;
  for (const step of plan.steps) {
    const st = task.steps[step.id];
    if (st?.status !== "pending") continue;
    if (!step.dependsOn.every((d) => task.steps[d]?.status === "completed")) continue;
    const isReview = step.role === "code-reviewer";
    if (isReview && task.state !== "reviewing") moveTo(task, "reviewing");
    st.status = "dispatched";
    st.startedAt = now;
    const reviewed = plan.steps.filter((s) => s.role !== "code-reviewer").map((s) => s.id);
    pushWork(task, {
      taskId: task.id,
      stepId: step.id,
      attempt: st.attempt,
      role: step.role,
      step,
      task: { text: task.text, requester: task.requester, slack: task.slack },
      upstream: resultsOf(task, ancestors(plan, step.id)),
      findings: st.findings,
      reviewScope: isReview ? resultsOf(task, reviewed) : [],
      brain: plan.brain,
    });
  }
}

type StepEvent = Extract<TaskEvent, { type: "step.started" | "step.completed" | "step.failed" | "step.progress" }>;

/**
 * A specialist reported on a step. Returns null when the report changes nothing
 * (progress, a stale attempt, a duplicate, a finished task).
 */
export function applyStepEvent(current: TaskRecord, evt: StepEvent, policy: Policy, now: string): TaskRecord | null {
  const st = current.steps[evt.stepId];
  const step = current.plan?.steps.find((s) => s.id === evt.stepId);
  if (!st || !step || st.attempt !== evt.attempt || isTerminal(current.state)) return null;
  if (evt.type === "step.progress") return null;
  if (evt.type === "step.started") {
    if (st.status !== "dispatched") return null;
    const task = draft(current);
    (task.steps[evt.stepId] as StepState).status = "running";
    pushUpdated(task, now);
    return task;
  }
  if (st.status === "completed" || st.status === "failed" || st.status === "skipped") return null;
  const task = draft(current);
  const mine = task.steps[evt.stepId] as StepState;
  mine.finishedAt = now;
  if (evt.type === "step.failed") {
    mine.status = "failed";
    mine.error = evt.error;
    if (task.replans >= policy.maxReplans || !WORKING.includes(task.state)) {
      return failTask(task, `${step.title} (${step.role}) failed: ${evt.error}`, now, step.id);
    }
    return startReplan(task, step, evt.error, now);
  }
  mine.status = "completed";
  mine.result = evt.result;
  if (step.role === "code-reviewer") {
    const verdict = evt.result.verdict;
    if (verdict?.decision === "request_changes") {
      if (task.reviewRounds >= policy.maxReviewRounds) {
        return failTask(
          task,
          `The code reviewer still asks for changes after ${task.reviewRounds} fix round(s): ${verdict.summary}`,
          now,
          step.id,
        );
      }
      startFixRound(task, step.id, verdict.findings, now);
      pushUpdated(task, now);
      return task;
    }
    // Approved: the app writes the summary next (see `needsSummary`).
    pushUpdated(task, now);
    return task;
  }
  dispatchReady(task, now);
  pushUpdated(task, now);
  return task;
}

/**
 * The seed's rule: when something goes sideways, stop and re-plan. Nothing new is
 * dispatched; the brain writes a revision that answers the failure; a person approves
 * it again. Steps that completed and stay the same keep their results.
 */
function startReplan(task: TaskRecord, step: Plan["steps"][number], error: string, now: string): TaskRecord {
  task.replans += 1;
  moveTo(task, "revising");
  const reason = `The ${step.role} step "${step.title}" failed: ${error}`;
  task.feedback.push({ userId: "mllead", text: `${reason}. Re-plan so the task can still succeed.`.slice(0, 4000), at: now });
  pushEvent(task, { type: "task.replanning", stepId: step.id, reason: reason.slice(0, 2000) }, now);
  pushUpdated(task, now);
  return task;
}

/** Sends the reviewer's findings back to the steps that own the code, then reviews again. */
function startFixRound(task: TaskRecord, reviewId: string, findings: Finding[], now: string): void {
  const plan = task.plan as Plan;
  const codeSteps = plan.steps.filter((s) => s.role !== "code-reviewer");
  const named = new Set(findings.map((f) => f.ownerStepId).filter((id): id is string => codeSteps.some((s) => s.id === id)));
  const owners = named.size > 0 ? named : new Set(codeSteps.filter((s) => s.changesCode).map((s) => s.id));
  if (owners.size === 0) for (const s of codeSteps) owners.add(s.id);
  // Anything downstream of a fixed step read the old output, so it runs again too.
  const rerun = new Set<string>(owners);
  for (const s of plan.steps) {
    if ([...ancestors(plan, s.id)].some((a) => owners.has(a))) rerun.add(s.id);
  }
  rerun.add(reviewId);
  task.reviewRounds += 1;
  moveTo(task, "fixing");
  for (const id of rerun) {
    const st = task.steps[id] as StepState;
    st.attempt += 1;
    st.status = "pending";
    delete st.result;
    delete st.finishedAt;
    st.findings = owners.has(id) ? findings.filter((f) => !f.ownerStepId || f.ownerStepId === id) : [];
  }
  dispatchReady(task, now);
}

/** True when the reviewer approved and the closing summary is still to be written. */
export function needsSummary(task: TaskRecord): boolean {
  if (task.state !== "reviewing" || !task.plan) return false;
  const reviews = task.plan.steps.filter((s) => s.role === "code-reviewer");
  return reviews.every((r) => {
    const st = task.steps[r.id];
    return st?.status === "completed" && st.result?.verdict?.decision !== "request_changes";
  });
}

/** True when a plan must be (re)written: planning, or revising after feedback. */
export function needsPlan(task: TaskRecord): boolean {
  return task.state === "planning" || task.state === "revising";
}

/** Closes the task with the tech lead's summary. */
export function completeTask(current: TaskRecord, summary: string, now: string): TaskRecord {
  const task = draft(current);
  moveTo(task, "done");
  task.summary = summary.slice(0, 8000);
  const plan = task.plan as Plan;
  const results = plan.steps.map((s) => ({ step: s, st: task.steps[s.id] }));
  const metrics: Record<string, number> = {};
  const artifacts = [];
  let verdict: import("@mllead/contracts").Verdict | undefined;
  for (const { step, st } of results) {
    if (!st?.result) continue;
    if (step.role !== "code-reviewer") Object.assign(metrics, st.result.metrics);
    artifacts.push(...st.result.artifacts);
    if (st.result.verdict) verdict = st.result.verdict;
  }
  pushEvent(
    task,
    {
      type: "task.completed",
      summary: task.summary,
      metrics,
      artifacts: artifacts.slice(0, 50),
      ...(verdict ? { verdict } : {}),
      brain: plan.brain,
    },
    now,
  );
  pushUpdated(task, now);
  return task;
}

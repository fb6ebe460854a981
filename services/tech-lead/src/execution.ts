import {
  addUsage,
  ancestors,
  type CriterionResult,
  describeUnmet,
  type EventOf,
  type Finding,
  type Plan,
  type StepResult,
  type StepState,
  stepBrief,
  type TaskRecord,
  type UpstreamResult,
  unmetCriteria,
  type Verdict,
} from "@mllead/contracts";
import { countStepUsage, holdAtBudget } from "./cost.js";
import { pushEvent, pushUpdated, pushWork } from "./outbox.js";
import { ignoredReport, type StepReport } from "./step-reports.js";
import { draft, failTask, moveTo, type Policy, WORKING } from "./task-draft.js";

function resultsOf(task: TaskRecord, ids: Iterable<string>): UpstreamResult[] {
  const out: UpstreamResult[] = [];
  for (const step of task.plan?.steps ?? []) {
    const st = task.steps[step.id];
    if (![...ids].includes(step.id) || st?.status !== "completed" || !st.result) continue;
    out.push({ stepId: step.id, role: step.role, title: step.title, result: st.result });
  }
  return out;
}

/**
 * Dispatches every pending step whose dependencies are all complete, unless the task's cost has
 * reached its budget: then nothing starts and the thread is asked whether to go on.
 */
export function dispatchReady(task: TaskRecord, now: string): void {
  const plan = task.plan;
  // While a new plan is written or waits for a person, nothing new starts.
  if (!plan || !WORKING.includes(task.state)) return;
  const ready = plan.steps.filter(
    (step) => task.steps[step.id]?.status === "pending" && step.dependsOn.every((d) => task.steps[d]?.status === "completed"),
  );
  if (ready.length === 0 || holdAtBudget(task, now)) return;
  for (const step of ready) {
    const st = task.steps[step.id] as StepState;
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
      // The plan around the step: its summary, track, assumptions, risks and the lessons it follows.
      brief: stepBrief(plan),
    });
  }
}

/**
 * A specialist reported on a step. Returns null when the report changes nothing: progress, or a
 * report the tech lead ignores (see `ignoredReport`: not about a step attempt it dispatched and still
 * waits for — never dispatched, stale, from another role, repeated, or about a finished task).
 */
export function applyStepEvent(current: TaskRecord, evt: StepReport, policy: Policy, now: string): TaskRecord | null {
  if (evt.type === "step.progress" || ignoredReport(current, evt) !== null) return null;
  const step = current.plan?.steps.find((s) => s.id === evt.stepId) as Plan["steps"][number];
  if (evt.type === "step.started") {
    const task = draft(current);
    (task.steps[evt.stepId] as StepState).status = "running";
    // The latest step's sandbox is what `/mllead status` reports (a warning where bubblewrap could not run).
    if (evt.sandbox) {
      task.sandbox = { mode: evt.sandbox, stepId: evt.stepId, at: now, ...(evt.warning ? { warning: evt.warning } : {}) };
    }
    pushUpdated(task, now);
    return task;
  }
  const task = draft(current);
  const mine = task.steps[evt.stepId] as StepState;
  mine.finishedAt = now;
  countStepUsage(task, evt.stepId, evt.type === "step.completed" ? evt.result.usage : evt.usage);
  // "Never mark a task complete without proving it works": a step whose result leaves a criterion unmet has failed.
  const unmet = evt.type === "step.completed" ? unmetCriteria(step, evt.result) : [];
  // The review is the gate, not work to redo: whatever it could not pass goes to a fix round, never a re-plan.
  if (evt.type === "step.completed" && step.role === "code-reviewer")
    return applyReview(task, step, evt.result, unmet, policy, now);
  if (evt.type === "step.failed" || unmet.length > 0) {
    const error = evt.type === "step.failed" ? evt.error : describeUnmet(unmet);
    mine.status = "failed";
    mine.error = error;
    if (evt.type === "step.completed") mine.result = evt.result;
    if (task.replans >= policy.maxReplans || !WORKING.includes(task.state)) {
      return failTask(task, `${step.title} (${step.role}) failed: ${error}`, now, step.id);
    }
    return startReplan(task, step, error, now);
  }
  mine.status = "completed";
  mine.result = evt.result;
  dispatchReady(task, now);
  pushUpdated(task, now);
  return task;
}

/** A review's criterion left unmet, as a finding of the fix round (so what the reviewer could not pass is kept). */
function unmetFinding(c: CriterionResult): Finding {
  return {
    severity: "major",
    category: "other",
    message: `The review could not confirm "${c.criterion.slice(0, 300)}": ${c.evidence.slice(0, 1500)}`.slice(0, 2000),
  };
}

/**
 * The code reviewer reported. Approved with every criterion met: the app writes the summary next (see
 * `needsSummary`). Changes requested, or a criterion unmet: a fix round with every finding (and one per unmet
 * criterion), up to `maxReviewRounds`; then the task fails with what the reviewer still asks for.
 */
function applyReview(
  task: TaskRecord,
  step: Plan["steps"][number],
  result: StepResult,
  unmet: CriterionResult[],
  policy: Policy,
  now: string,
): TaskRecord {
  const mine = task.steps[step.id] as StepState;
  mine.status = "completed";
  mine.result = result;
  const verdict = result.verdict;
  if (verdict?.decision !== "request_changes" && unmet.length === 0) {
    pushUpdated(task, now);
    return task;
  }
  const findings = [...(verdict?.findings ?? []), ...unmet.map(unmetFinding)];
  if (task.reviewRounds >= policy.maxReviewRounds) {
    const why = [verdict?.decision === "request_changes" ? verdict.summary : "", unmet.length ? describeUnmet(unmet) : ""];
    return failTask(
      task,
      `The code reviewer still asks for changes after ${task.reviewRounds} fix round(s): ${why.filter(Boolean).join("; ")}`,
      now,
      step.id,
    );
  }
  startFixRound(task, step.id, findings, now);
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
    // The re-review gets every finding, to check each against what the fix round changed.
    st.findings =
      id === reviewId ? findings : owners.has(id) ? findings.filter((f) => !f.ownerStepId || f.ownerStepId === id) : [];
  }
  dispatchReady(task, now);
}

/**
 * True when the closing summary is still to be written: every step completed (not only the
 * review: a step that still runs beside an early approval holds the summary back) and no
 * reviewer asks for changes.
 */
export function needsSummary(task: TaskRecord): boolean {
  if (task.state !== "reviewing" || !task.plan) return false;
  return task.plan.steps.every((s) => {
    const st = task.steps[s.id];
    if (st?.status !== "completed") return false;
    return s.role !== "code-reviewer" || st.result?.verdict?.decision !== "request_changes";
  });
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
  let verdict: Verdict | undefined;
  for (const { step, st } of results) {
    if (!st?.result) continue;
    if (step.role !== "code-reviewer") Object.assign(metrics, st.result.metrics);
    artifacts.push(...st.result.artifacts);
    if (st.result.verdict) verdict = st.result.verdict;
  }
  const git = taskGit(results.map((r) => r.st?.result));
  // The task's own total counts every Claude call (plans, summary, every attempt); older records only have the steps'.
  const usage =
    task.usage ?? (results.some((r) => r.st?.result?.usage) ? addUsage(...results.map((r) => r.st?.result?.usage)) : undefined);
  pushEvent(
    task,
    {
      type: "task.completed",
      summary: task.summary,
      metrics,
      artifacts: artifacts.slice(0, 50),
      ...(verdict ? { verdict } : {}),
      brain: plan.brain,
      ...(git ? { git } : {}),
      ...(usage ? { usage } : {}),
    },
    now,
  );
  pushUpdated(task, now);
  return task;
}

/** The task's branch, every step's commits (in plan order, which follows the dependencies), and the push. */
function taskGit(results: (StepResult | undefined)[]): EventOf<"task.completed">["git"] {
  const withGit = results.filter((r): r is StepResult & { git: NonNullable<StepResult["git"]> } => !!r?.git);
  const first = withGit[0];
  if (!first) return undefined;
  const seen = new Set<string>();
  const commits = withGit.flatMap((r) => r.git.commits).filter((c) => !seen.has(c.sha) && seen.add(c.sha));
  const pushed = withGit.find((r) => r.git.pushed)?.git.pushed;
  return {
    branch: first.git.branch,
    baseCommit: first.git.baseCommit,
    commits: commits.slice(0, 100),
    ...(pushed ? { pushed } : {}),
  };
}

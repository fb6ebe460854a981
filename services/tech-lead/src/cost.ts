import { addUsage, formatUsd, heldAtBudget, type TaskDecide, type TaskRecord, type Usage } from "@mllead/contracts";
import { pushEvent } from "./outbox.js";
import { draft, type Policy, WORKING } from "./task-draft.js";

/**
 * What a task's Claude calls cost, and its budget. Every call is counted once, where its result is
 * applied: a plan or summary in the same write as the plan or summary (or its failure), a step attempt
 * with its `step.completed`/`step.failed` (which the orchestrator applies once per attempt).
 */

/** Adds a call's tokens and cost to the task's total (on a draft). */
export function countUsage(task: TaskRecord, usage: Usage | undefined): void {
  if (usage) task.usage = addUsage(task.usage, usage);
}

/** Adds a step attempt's tokens and cost to its step and to the task (on a draft). */
export function countStepUsage(task: TaskRecord, stepId: string, usage: Usage | undefined): void {
  if (!usage) return;
  const st = task.steps[stepId];
  if (st) st.usage = addUsage(st.usage, usage);
  countUsage(task, usage);
}

/** A copy of the task with `usage` counted. */
export function withUsage(current: TaskRecord, usage: Usage | undefined): TaskRecord {
  const task = draft(current);
  countUsage(task, usage);
  return task;
}

/** What the task's Claude calls cost so far, USD (0 offline). */
export function costSoFar(task: TaskRecord): number {
  return task.usage?.costUsd ?? 0;
}

/** Gives a new task the configured budget (MLLEAD_TASK_BUDGET_USD); none when it is unset. */
export function withBudget(task: TaskRecord, policy: Pick<Policy, "taskBudgetUsd">): TaskRecord {
  const usd = policy.taskBudgetUsd;
  if (usd !== undefined && usd > 0) task.budget = { stepUsd: usd, limitUsd: usd, asks: 0 };
  return task;
}

/**
 * Called before ready steps are dispatched: true when the task's cost has reached its budget, so
 * nothing may start. The first time (per plan revision) it asks in the thread whether to go on.
 */
export function holdAtBudget(task: TaskRecord, now: string): boolean {
  const budget = task.budget;
  if (!budget) return false;
  const cost = costSoFar(task);
  if (cost < budget.limitUsd) return false;
  if (heldAtBudget(task)) return true;
  budget.asks += 1;
  budget.held = { ask: budget.asks, costUsd: cost, revision: task.revision, at: now };
  pushEvent(
    task,
    {
      type: "task.budget_reached",
      costUsd: cost,
      budgetUsd: budget.limitUsd,
      raiseUsd: budget.stepUsd,
      ask: budget.asks,
      requester: task.requester.userId,
      ...(task.usage?.unpricedModels?.length ? { unpricedModels: task.usage.unpricedModels } : {}),
    },
    now,
  );
  return true;
}

/**
 * "Go on" at the budget: another budget's worth of spending from where the task stands (the limit
 * becomes the larger of the limit and the cost, plus MLLEAD_TASK_BUDGET_USD), so the person is asked
 * again after each further budget rather than never. Returns the task to dispatch from, or why not.
 */
export function goOn(current: TaskRecord, cmd: Pick<TaskDecide, "userId" | "ask">, now: string): TaskRecord | string {
  const held = heldAtBudget(current);
  if (!held || !current.budget) {
    return WORKING.includes(current.state)
      ? "This task is not stopped at its budget; there is nothing to go on with."
      : "This task is not running, so there is no budget question to answer.";
  }
  if (cmd.ask !== undefined && cmd.ask !== held.ask) {
    return `That was an earlier budget question; answer the latest one (the budget is ${formatUsd({ costUsd: current.budget.limitUsd })}).`;
  }
  const task = draft(current);
  const budget = task.budget as NonNullable<TaskRecord["budget"]>;
  const cost = costSoFar(task);
  budget.limitUsd = Math.max(budget.limitUsd, cost) + budget.stepUsd;
  delete budget.held;
  pushEvent(task, { type: "task.budget_raised", userId: cmd.userId, costUsd: cost, budgetUsd: budget.limitUsd }, now);
  return task;
}

/** The reason a cancel gives when it answers a budget question ("stop"); undefined otherwise. */
export function budgetStopReason(task: TaskRecord): string | undefined {
  const held = heldAtBudget(task);
  if (!held || !task.budget) return undefined;
  return `stopped at its budget: it had used ${formatUsd({ costUsd: costSoFar(task), ...(task.usage?.unpricedModels ? { unpricedModels: task.usage.unpricedModels } : {}) })} of ${formatUsd({ costUsd: task.budget.limitUsd })}`;
}

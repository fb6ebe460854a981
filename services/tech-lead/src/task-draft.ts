import { type TaskRecord, type TaskState, transition } from "@mllead/contracts";
import { pushEvent, pushUpdated } from "./outbox.js";

/** What the tech lead's rules depend on besides the task (from its configuration). */
export interface Policy {
  /** Slack user ids allowed to approve besides the requester. */
  approvers: readonly string[];
  maxReviewRounds: number;
  /** How many times a failed step may send the task back to planning before it fails. */
  maxReplans: number;
  /** MLLEAD_TASK_BUDGET_USD: a new task's spending limit in USD, and what each "go on" adds; absent = none. */
  taskBudgetUsd?: number | undefined;
}

/** States in which ready steps are handed to the specialists. */
export const WORKING: readonly TaskState[] = ["executing", "reviewing", "fixing"];

/** Decision ids kept per task to recognise a redelivered decision. */
export const MAX_REMEMBERED_DECISIONS = 50;

/** A copy to change: the stored task is never mutated (a lost compare-and-swap reruns the rule). */
export function draft(task: TaskRecord): TaskRecord {
  return structuredClone(task);
}

/** Moves along the lifecycle, or throws InvalidTransitionError. */
export function moveTo(task: TaskRecord, to: TaskState): void {
  task.state = transition(task.state, to);
}

/** Ends the task as failed with a reason people can act on (planning failed, a step failed for good, review never passed). */
export function failTask(current: TaskRecord, reason: string, now: string, stepId?: string): TaskRecord {
  const task = draft(current);
  moveTo(task, "failed");
  task.failure = reason.slice(0, 2000);
  skipUnfinished(task);
  pushEvent(task, { type: "task.failed", reason: task.failure, ...(stepId ? { stepId } : {}) }, now);
  pushUpdated(task, now);
  return task;
}

/** Marks every step that has not finished as skipped (the task is over). */
export function skipUnfinished(task: TaskRecord): void {
  for (const s of Object.values(task.steps)) {
    if (s.status === "pending" || s.status === "dispatched" || s.status === "running") s.status = "skipped";
  }
}

import { z } from "zod";
import { InvalidTransitionError } from "./errors.js";

/** Every state a task can be in, in lifecycle order. */
export const TASK_STATES = [
  "requested",
  "planning",
  "awaiting_approval",
  "revising",
  "executing",
  "reviewing",
  "fixing",
  "done",
  "failed",
  "cancelled",
] as const;
export const TaskState = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof TaskState>;

/**
 * The task lifecycle as data: each state's allowed next states.
 * `failed` and `cancelled` are reachable from every live state.
 */
export const TASK_TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  requested: ["planning", "failed", "cancelled"],
  planning: ["awaiting_approval", "failed", "cancelled"],
  awaiting_approval: ["revising", "executing", "failed", "cancelled"],
  revising: ["awaiting_approval", "failed", "cancelled"],
  // A failed step stops the work and sends the task back to planning (then to a person).
  executing: ["reviewing", "revising", "failed", "cancelled"],
  reviewing: ["fixing", "done", "revising", "failed", "cancelled"],
  fixing: ["reviewing", "revising", "failed", "cancelled"],
  done: [],
  failed: [],
  cancelled: [],
};

/** The states a task never leaves. */
export const TERMINAL_STATES: readonly TaskState[] = ["done", "failed", "cancelled"];

/** True for a state the task never leaves (done, failed, cancelled). */
export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** True when the lifecycle allows going from `from` to `to`. */
export function canTransition(from: TaskState, to: TaskState): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

/** Returns `to` when the lifecycle allows it; throws InvalidTransitionError otherwise. */
export function transition(from: TaskState, to: TaskState): TaskState {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
  return to;
}

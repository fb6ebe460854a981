import type { Role } from "./common.js";
import { isTerminal } from "./lifecycle.js";
import type { TaskRecord } from "./task.js";

/** The step attempt a message says it is about (a report, a work order, a GPU job). */
export interface StepAttemptRef {
  stepId: string;
  attempt: number;
  /** Checked against the plan's role for the step when given (a GPU job names none). */
  role?: Role;
}

/**
 * Why a message about a step attempt is not about one the tech lead dispatched and still waits for,
 * or null when it is: the task exists and is live, the step is in its current plan (for that role),
 * the attempt is the step's current one, and the step is dispatched or running. The task record is
 * written by the tech lead alone, so this is how the tech lead, a specialist or a runner tells real
 * work from a forged, stale or repeated message.
 */
export function undispatchedReason(task: TaskRecord | null, ref: StepAttemptRef): string | null {
  if (!task) return "no such task";
  if (isTerminal(task.state)) return `the task is ${task.state}`;
  const step = task.plan?.steps.find((s) => s.id === ref.stepId);
  const state = task.steps[ref.stepId];
  if (!step || !state) return `step ${ref.stepId} is not in the task's plan`;
  if (ref.role !== undefined && ref.role !== step.role)
    return `step ${ref.stepId} is a ${step.role} step, not a ${ref.role} step`;
  if (ref.attempt !== state.attempt) return `attempt ${ref.attempt} is not the step's current attempt (${state.attempt})`;
  if (state.status === "pending") return "the step was never dispatched (it is pending)";
  if (state.status !== "dispatched" && state.status !== "running") return `the step is ${state.status}, no longer running`;
  return null;
}

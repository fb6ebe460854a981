import { z } from "zod";
import { Id, Person, SlackRef, Timestamp, Version } from "./common.js";
import { Plan } from "./plan.js";
import { Finding, StepResult } from "./results.js";

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

export const TERMINAL_STATES: readonly TaskState[] = ["done", "failed", "cancelled"];

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

export class InvalidTransitionError extends Error {
  readonly code = "invalid_transition";
  override readonly name = "InvalidTransitionError";
  constructor(
    readonly from: TaskState,
    readonly to: TaskState,
  ) {
    super(`a task cannot go from '${from}' to '${to}'`);
  }
}

/** Returns `to` when the lifecycle allows it; throws InvalidTransitionError otherwise. */
export function transition(from: TaskState, to: TaskState): TaskState {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
  return to;
}

export const STEP_STATUSES = ["pending", "dispatched", "running", "completed", "failed", "skipped"] as const;
export const StepStatus = z.enum(STEP_STATUSES);
export type StepStatus = z.infer<typeof StepStatus>;

export const StepState = z.object({
  status: StepStatus,
  /** Starts at 1; a fix round after review or a retry bumps it. */
  attempt: z.number().int().positive(),
  startedAt: Timestamp.optional(),
  finishedAt: Timestamp.optional(),
  result: StepResult.optional(),
  error: z.string().max(2000).optional(),
  /** On a fix round: the reviewer's findings this attempt must address. */
  findings: z.array(Finding).default([]),
});
export type StepState = z.infer<typeof StepState>;

/** A message the tech lead must publish; kept in the task record until sent (transactional outbox). */
export const OutboxMessage = z.object({
  subject: z.string().min(1),
  msgId: z.string().min(1),
  payload: z.unknown(),
});
export type OutboxMessage = z.infer<typeof OutboxMessage>;

/** How the task's latest step confined its commands, as its `step.started` said. */
export const SandboxNote = z.object({
  mode: z.enum(["bubblewrap", "process"]),
  /** Set with the `process` sandbox: what it does not confine. */
  warning: z.string().max(500).optional(),
  stepId: Id,
  at: Timestamp,
});
export type SandboxNote = z.infer<typeof SandboxNote>;

/** The task as stored in the `mllead_tasks` KV bucket. The tech lead is its only writer. */
export const TaskRecord = z.object({
  v: Version,
  id: Id,
  text: z.string().min(1).max(4000),
  requester: Person,
  slack: SlackRef,
  state: TaskState,
  /** Plan revision shown to people: 1 for the first plan, +1 for each change request. */
  revision: z.number().int().nonnegative(),
  plan: Plan.optional(),
  steps: z.record(z.string(), StepState).default({}),
  reviewRounds: z.number().int().nonnegative().default(0),
  /** Times a failed step sent the task back to planning. */
  replans: z.number().int().nonnegative().default(0),
  approvedBy: z.string().optional(),
  feedback: z.array(z.object({ userId: z.string(), text: z.string().max(4000), at: Timestamp })).default([]),
  summary: z.string().max(8000).optional(),
  failure: z.string().max(2000).optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  outbox: z.array(OutboxMessage).default([]),
  /** Counter behind deterministic event ids: a replayed outbox re-publishes the same ids. */
  eventSeq: z.number().int().nonnegative().default(0),
  /** Decision ids already applied (most recent last, bounded), so a redelivered decision is a no-op. */
  decisions: z.array(z.string()).default([]),
  sandbox: SandboxNote.optional(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

/** What people see of a task: the status card and `/mllead status`. */
export const TaskView = z.object({
  id: Id,
  text: z.string(),
  state: TaskState,
  revision: z.number().int().nonnegative(),
  requester: z.string(),
  slack: SlackRef,
  brain: z.enum(["offline", "anthropic"]).optional(),
  steps: z.array(
    z.object({
      id: Id,
      role: z.string(),
      title: z.string(),
      status: StepStatus,
      attempt: z.number().int().positive(),
    }),
  ),
  updatedAt: Timestamp,
  /** Set while the task's steps run in the process sandbox (no bubblewrap on the specialist's host). */
  sandboxWarning: z.string().max(500).optional(),
});
export type TaskView = z.infer<typeof TaskView>;

/** Said when a step runs in the process sandbox and its specialist gave no words of its own. */
export const PROCESS_SANDBOX_WARNING =
  "bubblewrap could not run on the specialist's host: commands run in the process sandbox (own process group and time limit, but no read-only filesystem and no network isolation).";

/** Projects a stored task to the view people see. */
export function toTaskView(task: TaskRecord): TaskView {
  return {
    id: task.id,
    text: task.text,
    state: task.state,
    revision: task.revision,
    requester: task.requester.userId,
    slack: task.slack,
    ...(task.plan ? { brain: task.plan.brain } : {}),
    steps: (task.plan?.steps ?? []).map((s) => ({
      id: s.id,
      role: s.role,
      title: s.title,
      status: task.steps[s.id]?.status ?? "pending",
      attempt: task.steps[s.id]?.attempt ?? 1,
    })),
    updatedAt: task.updatedAt,
    ...(task.sandbox?.mode === "process" ? { sandboxWarning: task.sandbox.warning ?? PROCESS_SANDBOX_WARNING } : {}),
  };
}

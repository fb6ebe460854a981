import { z } from "zod";
import { Decision } from "./commands.js";
import { Artifact, Id, Metrics, Role, Timestamp, Usage, Version } from "./common.js";
import { JobProgress, JobResult } from "./jobs.js";
import { Plan } from "./plan.js";
import { Commit, CriterionResult, StepResult, Verdict } from "./results.js";
import { LeadCall, TaskView } from "./task.js";

/** Fields on every event. `eventId` is deterministic and doubles as the JetStream msgID. */
const base = {
  v: Version,
  eventId: z.string().min(1).max(300),
  taskId: Id,
  at: Timestamp,
};
const stepBase = { ...base, stepId: Id, role: Role, attempt: z.number().int().positive() };
const jobBase = { ...base, stepId: Id, jobId: Id };

export const TaskUpdated = z.object({ ...base, type: z.literal("task.updated"), view: TaskView });
export const TaskPlanned = z.object({
  ...base,
  type: z.literal("task.planned"),
  revision: z.number().int().positive(),
  plan: Plan,
  requester: z.string(),
  /** Set on a revised plan: the change request it answers. */
  feedback: z.string().optional(),
});
export const TaskDecisionRejected = z.object({
  ...base,
  type: z.literal("task.decision_rejected"),
  userId: z.string(),
  decision: Decision,
  reason: z.string().max(500),
});
export const TaskApproved = z.object({ ...base, type: z.literal("task.approved"), userId: z.string(), via: z.string() });
export const TaskChangesRequested = z.object({
  ...base,
  type: z.literal("task.changes_requested"),
  userId: z.string(),
  feedback: z.string(),
  /** Set when the feedback is the answers to the plan's questions (the last one answered by `userId`). */
  answers: z.boolean().optional(),
});
/**
 * A person answered one of the plan's questions and others are still open: the plan is revised once every
 * question has an answer (then `task.changes_requested` with `answers`).
 */
export const TaskQuestionAnswered = z.object({
  ...base,
  type: z.literal("task.question_answered"),
  userId: z.string(),
  questionId: Id,
  question: z.string().max(500),
  answer: z.string().max(1000),
  /** Questions of this plan revision still without an answer. */
  open: z.number().int().nonnegative(),
});
export const TaskCancelled = z.object({
  ...base,
  type: z.literal("task.cancelled"),
  userId: z.string().optional(),
  reason: z.string(),
});
export const TaskCompleted = z.object({
  ...base,
  type: z.literal("task.completed"),
  summary: z.string().max(8000),
  metrics: Metrics.default({}),
  artifacts: z.array(Artifact).default([]),
  verdict: Verdict.optional(),
  brain: z.enum(["offline", "anthropic"]),
  /** The task's branch in the team's repository and the commits its steps made, oldest first. */
  git: z
    .object({
      branch: z.string().max(200),
      baseCommit: z.string().max(64),
      commits: z.array(Commit).max(100),
      pushed: z.object({ remote: z.string().max(500), ref: z.string().max(200) }).optional(),
    })
    .optional(),
  /**
   * Tokens, tool calls and cost of the task's Claude calls, summed: the tech lead's plans and summary and
   * every step attempt (absent offline: nothing was spent).
   */
  usage: Usage.optional(),
});
/** A step failed: the tech lead stopped the work and is writing a new plan, which a person approves again. */
export const TaskReplanning = z.object({
  ...base,
  type: z.literal("task.replanning"),
  stepId: Id,
  reason: z.string().max(2000),
});
export const TaskFailed = z.object({
  ...base,
  type: z.literal("task.failed"),
  reason: z.string().max(2000),
  stepId: Id.optional(),
});
/**
 * Claude could not write the tech lead's plan, revision or summary (refused, cut off, malformed, or the
 * API stayed overloaded). Nothing is lost: the task waits, for the automatic retry at `retryAt` or, without
 * it, for a person's `retry` (button or reply). No re-plan is spent.
 */
export const TaskBrainFailed = z.object({
  ...base,
  type: z.literal("task.brain_failed"),
  call: LeadCall,
  /** The brain error's stable code (`claude_refused`, `claude_output_cut`, `claude_bad_output`, `plan_rejected`, `brain_transient`). */
  code: z.string().min(1).max(100),
  /** What happened and what to do, for the thread. */
  message: z.string().max(2000),
  /** Failures of this call in a row. */
  attempt: z.number().int().positive(),
  /** Set when the tech lead retries by itself (an overloaded or unreachable API): when. */
  retryAt: Timestamp.optional(),
});
/** A failed Claude call of the tech lead runs again: a person's `retry` (`userId`), or the automatic one. */
export const TaskRetrying = z.object({
  ...base,
  type: z.literal("task.retrying"),
  call: LeadCall,
  userId: z.string().optional(),
});
/**
 * The task's Claude calls cost `costUsd`, which reached its budget: no new step is dispatched until the
 * requester or an approver answers "go on" (`continue`) or "stop" (`cancel`). Steps already running finish.
 */
export const TaskBudgetReached = z.object({
  ...base,
  type: z.literal("task.budget_reached"),
  costUsd: z.number().nonnegative(),
  budgetUsd: z.number().positive(),
  /** What a "go on" allows on top of what is spent, USD. */
  raiseUsd: z.number().positive(),
  /** The question's number; its buttons carry it, so a click on an older one is refused. */
  ask: z.number().int().positive(),
  requester: z.string(),
  /** Models whose tokens had no price: the cost is then a lower bound. */
  unpricedModels: z.array(z.string().max(200)).max(20).optional(),
});
/** A person answered "go on" at the budget: the new limit, and the work continues. */
export const TaskBudgetRaised = z.object({
  ...base,
  type: z.literal("task.budget_raised"),
  userId: z.string(),
  costUsd: z.number().nonnegative(),
  budgetUsd: z.number().positive(),
});

export const StepStarted = z.object({
  ...stepBase,
  type: z.literal("step.started"),
  title: z.string(),
  /** Where the step works: the task's branch in the team's repository. */
  branch: z.string().max(200).optional(),
  /** How model-driven commands are confined; `process` carries a warning. */
  sandbox: z.enum(["bubblewrap", "process"]).optional(),
  warning: z.string().max(500).optional(),
  /** On a fix round: how many of the code reviewer's findings this attempt addresses (the re-review: checks); absent otherwise. */
  fixing: z.number().int().positive().optional(),
});
export const StepProgress = z.object({ ...stepBase, type: z.literal("step.progress"), message: z.string().max(1000) });
export const StepCompleted = z.object({ ...stepBase, type: z.literal("step.completed"), title: z.string(), result: StepResult });
export const StepFailed = z.object({
  ...stepBase,
  type: z.literal("step.failed"),
  title: z.string(),
  error: z.string().max(2000),
  /** When the step ended with acceptance criteria unmet: every criterion's answer, met or not. */
  criteria: z.array(CriterionResult).max(20).optional(),
  /** Tokens and cost the failed attempt's Claude loop spent (counted in the step's and the task's cost). */
  usage: Usage.optional(),
});

export const JobQueued = z.object({ ...jobBase, type: z.literal("job.queued"), gpus: z.number().int().nonnegative() });
export const JobStarted = z.object({
  ...jobBase,
  type: z.literal("job.started"),
  host: z.string(),
  runnerId: z.string(),
  /** GPU UUIDs (or indices where the host has none) given to the job through CUDA_VISIBLE_DEVICES. */
  devices: z.array(z.string()),
});
export const JobProgressed = z.object({ ...jobBase, type: z.literal("job.progress"), progress: JobProgress });
export const JobFinished = z.object({ ...jobBase, type: z.literal("job.finished"), result: JobResult });

/** Everything that happens to a task; the `MLLEAD_EVENTS` stream is its audit log. */
export const TaskEvent = z.discriminatedUnion("type", [
  TaskUpdated,
  TaskPlanned,
  TaskDecisionRejected,
  TaskApproved,
  TaskChangesRequested,
  TaskQuestionAnswered,
  TaskCancelled,
  TaskCompleted,
  TaskReplanning,
  TaskFailed,
  TaskBrainFailed,
  TaskRetrying,
  TaskBudgetReached,
  TaskBudgetRaised,
  StepStarted,
  StepProgress,
  StepCompleted,
  StepFailed,
  JobQueued,
  JobStarted,
  JobProgressed,
  JobFinished,
]);
export type TaskEvent = z.infer<typeof TaskEvent>;
export type TaskEventType = TaskEvent["type"];
/** The event of one type, e.g. `EventOf<"step.completed">`. */
export type EventOf<T extends TaskEventType> = Extract<TaskEvent, { type: T }>;

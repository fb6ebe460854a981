import { z } from "zod";
import { Id, Person, SlackRef, Timestamp, TraceContext, Usage, Version } from "./common.js";
import { isTerminal, TaskState } from "./lifecycle.js";
import { Plan, type PlanQuestion } from "./plan.js";
import { formatUsd } from "./pricing.js";
import { Finding, StepResult } from "./results.js";

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
  /** Tokens and cost of this step's Claude loops, every attempt summed (absent offline). */
  usage: Usage.optional(),
});
export type StepState = z.infer<typeof StepState>;

/** The tech lead's own Claude calls: the first plan, a revision, the closing summary. */
export const LeadCall = z.enum(["plan", "revision", "summary"]);
export type LeadCall = z.infer<typeof LeadCall>;

/**
 * A Claude call of the tech lead that failed in a way worth asking again (a refusal, a cut or
 * malformed answer, an overloaded API). The task keeps its state and waits: for the automatic
 * retry at `retryAt` (an overloaded or unreachable API), or for a person's `retry`.
 */
export const BrainFailure = z.object({
  call: LeadCall,
  /** The brain error's stable code, e.g. `claude_refused`, `brain_transient`. */
  code: z.string().min(1).max(100),
  /** What happened, for people (the brain error's message). */
  message: z.string().max(2000),
  /** Failures of this call in a row, automatic retries included; a person's retry starts over. */
  attempts: z.number().int().positive(),
  /** Set while an automatic retry is scheduled; absent = waits for a person's `retry`. */
  retryAt: Timestamp.optional(),
  at: Timestamp,
});
export type BrainFailure = z.infer<typeof BrainFailure>;

/** A task's spending limit (MLLEAD_TASK_BUDGET_USD when it was created) and where it stands. */
export const TaskBudget = z.object({
  /** The configured budget in USD: the first limit, and what each "go on" adds. */
  stepUsd: z.number().positive(),
  /** Spending allowed now, USD. */
  limitUsd: z.number().positive(),
  /** Budget questions asked so far (the pending one is number `asks`). */
  asks: z.number().int().nonnegative().default(0),
  /** Set while no step is dispatched because the cost reached the limit: the question waits for "go on" or "stop". */
  held: z
    .object({
      ask: z.number().int().positive(),
      costUsd: z.number().nonnegative(),
      /** The plan revision it held; a new plan asks again. */
      revision: z.number().int().nonnegative(),
      at: Timestamp,
    })
    .optional(),
});
export type TaskBudget = z.infer<typeof TaskBudget>;

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

/** A person's answer to one of the plan's questions. */
export const PlanAnswer = z.object({
  /** The plan revision whose question it answers. */
  revision: z.number().int().positive(),
  questionId: Id,
  text: z.string().min(1).max(1000),
  userId: z.string(),
  at: Timestamp,
});
export type PlanAnswer = z.infer<typeof PlanAnswer>;

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
  /** Tokens and cost of every Claude call of the task: the tech lead's plans and summary, every step attempt. */
  usage: Usage.optional(),
  /** Absent = no budget (MLLEAD_TASK_BUDGET_USD unset when the task was created). */
  budget: TaskBudget.optional(),
  /** A plan, revision or summary that Claude could not write and that waits to be retried. */
  brainFailure: BrainFailure.optional(),
  /** Answers to the questions of the current plan revision (absent = none yet, and records from before questions). */
  answers: z.array(PlanAnswer).max(20).optional(),
  /** The task's trace (its mention's), so its later work joins it; absent when tracing is off and on older records. */
  trace: TraceContext.optional(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

/** How the tech lead's feedback that carries the answers to a plan's questions starts (planners recognise it). */
export const ANSWERS_FEEDBACK_PREFIX = "Answers to the plan's questions:";

/** The feedback a revision gets once every question of the current plan is answered: one line per question. */
export function answersFeedback(task: Pick<TaskRecord, "plan" | "revision" | "answers">): string {
  const lines = (task.plan?.questions ?? []).map((q) => {
    const a = (task.answers ?? []).find((x) => x.revision === task.revision && x.questionId === q.id);
    return `- ${q.id}: ${q.text} → ${a?.text ?? "(no answer)"}`;
  });
  return [ANSWERS_FEEDBACK_PREFIX, ...lines].join("\n").slice(0, 4000);
}

/** True when a feedback item is the answers to a plan's questions (see `answersFeedback`). */
export function isAnswersFeedback(text: string): boolean {
  return text.startsWith(ANSWERS_FEEDBACK_PREFIX);
}

/** The current plan's questions that have no answer yet: while there is one, the plan cannot be approved. */
export function openQuestions(task: Pick<TaskRecord, "plan" | "revision" | "answers">): PlanQuestion[] {
  const answered = new Set((task.answers ?? []).filter((a) => a.revision === task.revision).map((a) => a.questionId));
  return (task.plan?.questions ?? []).filter((q) => !answered.has(q.id));
}

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
      /** What the step's Claude calls cost so far, USD (absent when it made none). */
      costUsd: z.number().nonnegative().optional(),
    }),
  ),
  updatedAt: Timestamp,
  /** Set while the task's steps run in the process sandbox (no bubblewrap on the specialist's host). */
  sandboxWarning: z.string().max(500).optional(),
  /** Tokens and cost of the task's Claude calls so far (absent before any, and always offline). */
  usage: Usage.optional(),
  /** The task's spending limit now, USD; absent = no budget. */
  budgetUsd: z.number().positive().optional(),
  /**
   * What the task waits for besides a plan approval: a person's `retry` of a failed Claude call, an
   * automatic retry, or a "go on" at the budget. `message` says it for people.
   */
  waiting: z
    .object({
      kind: z.enum(["retry", "auto_retry", "budget"]),
      message: z.string().max(2000),
      /** For `auto_retry`: when it runs. */
      at: Timestamp.optional(),
    })
    .optional(),
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
    steps: (task.plan?.steps ?? []).map((s) => {
      const st = task.steps[s.id];
      const costUsd = st?.usage?.costUsd;
      return {
        id: s.id,
        role: s.role,
        title: s.title,
        status: st?.status ?? "pending",
        attempt: st?.attempt ?? 1,
        ...(costUsd !== undefined ? { costUsd } : {}),
      };
    }),
    updatedAt: task.updatedAt,
    ...(task.sandbox?.mode === "process" ? { sandboxWarning: task.sandbox.warning ?? PROCESS_SANDBOX_WARNING } : {}),
    ...(task.usage ? { usage: task.usage } : {}),
    ...(task.budget ? { budgetUsd: task.budget.limitUsd } : {}),
    ...(waitingOf(task) ?? {}),
  };
}

/** What a live task waits for from a person (or the clock), for the status card. */
function waitingOf(task: TaskRecord): Pick<TaskView, "waiting"> | undefined {
  if (isTerminal(task.state)) return undefined;
  const f = task.brainFailure;
  if (f) {
    return f.retryAt
      ? { waiting: { kind: "auto_retry", message: f.message, at: f.retryAt } }
      : { waiting: { kind: "retry", message: f.message } };
  }
  const held = heldAtBudget(task);
  if (held && task.budget) {
    const message = `This task has used ${formatUsd({ costUsd: held.costUsd })} of its ${formatUsd({ costUsd: task.budget.limitUsd })} budget; go on?`;
    return { waiting: { kind: "budget", message } };
  }
  return undefined;
}

/** The budget question that holds the task's dispatch, while it applies (a live task, the same plan revision). */
export function heldAtBudget(task: TaskRecord): NonNullable<TaskBudget["held"]> | undefined {
  const held = task.budget?.held;
  const working = task.state === "executing" || task.state === "reviewing" || task.state === "fixing";
  return held && working && held.revision === task.revision ? held : undefined;
}

import { z } from "zod";
import { BrainKind, Id, Person, Role, SlackRef, Timestamp, Version } from "./common.js";
import { AppliedLesson, MAX_LESSONS_PER_CHANNEL } from "./lessons.js";
import { type Plan, PlanTrack, Risk, Step } from "./plan.js";
import { Finding, StepResult } from "./results.js";

/**
 * The longest Slack id or timestamp a command may carry. Slack's are about 10–20 characters;
 * the bound keeps a forged or broken field from growing the task record past NATS's payload limit.
 */
export const SLACK_ID_MAX = 100;
const SlackId = z.string().min(1).max(SLACK_ID_MAX);

/** A SlackRef whose fields are bounded (what commands carry in). */
export const BoundedSlackRef = SlackRef.extend({
  teamId: SlackId.optional(),
  channel: SlackId,
  threadTs: SlackId,
  messageTs: SlackId,
});

/** gateway → tech-lead: a mention became a task. Published with msgID = the Slack event id. */
export const TaskCreate = z.object({
  v: Version,
  taskId: Id,
  text: z.string().min(1).max(4000),
  requester: Person.extend({ userId: SlackId }),
  slack: BoundedSlackRef,
  requestedAt: Timestamp,
});
export type TaskCreate = z.infer<typeof TaskCreate>;

/**
 * What a person decides in a task's thread: on the plan (approve, request changes, `answer` its open
 * questions), on a Claude call of the tech lead that failed (`retry` runs it again), at the task's budget
 * (`continue` allows another budget's worth; `cancel` stops), or to drop the task (`cancel`).
 */
export const Decision = z.enum(["approve", "request_changes", "cancel", "retry", "continue", "answer"]);
export type Decision = z.infer<typeof Decision>;

/** gateway → tech-lead: a person approved, asked for changes, cancelled, retried or let the task go on past its budget. */
export const TaskDecide = z.object({
  v: Version,
  taskId: Id,
  /** Unique per human action (Slack action/event id); the msgID, so a retried click counts once. */
  decisionId: z.string().min(1).max(200),
  decision: Decision,
  userId: SlackId,
  feedback: z.string().max(4000).optional(),
  /** The plan revision the person was looking at; a click on a stale plan is refused. */
  revision: z.number().int().nonnegative().optional(),
  via: z.enum(["button", "reply", "reaction", "slash"]),
  decidedAt: Timestamp,
  /**
   * Set by the Go on / Stop buttons of a budget question: the number of the question (`ask` of
   * `task.budget_reached`); an answer to an older question is refused. Replies answer the current one.
   */
  ask: z.number().int().positive().optional(),
  /**
   * With `answer`: the questions answered by a button (the question's id and the index of the choice
   * clicked, which the tech lead reads from its own plan). A reply answers every open question at once
   * with its text in `feedback` instead.
   */
  answers: z
    .array(z.object({ questionId: Id, choice: z.number().int().min(0).max(20) }))
    .min(1)
    .max(5)
    .optional(),
});
export type TaskDecide = z.infer<typeof TaskDecide>;

/** What a specialist is told about a finished upstream step. */
export const UpstreamResult = z.object({
  stepId: Id,
  role: Role,
  title: z.string(),
  result: StepResult,
});
export type UpstreamResult = z.infer<typeof UpstreamResult>;

/**
 * What every step is told about the plan it belongs to: the plan's summary, its track (experiment or
 * production), what it assumed, its risks with their mitigations and the channel's lessons it follows.
 * Always `stepBrief(plan)` of the recorded plan (the specialist checks it), never anything else.
 */
export const StepBrief = z.object({
  summary: z.string().max(2000),
  track: PlanTrack,
  assumptions: z.array(z.string().max(500)).max(10).default([]),
  risks: z.array(Risk).max(10).default([]),
  lessons: z.array(AppliedLesson).max(MAX_LESSONS_PER_CHANNEL).default([]),
});
export type StepBrief = z.infer<typeof StepBrief>;

/** The brief of every step of `plan` (a plan without a track is an experiment). */
export function stepBrief(plan: Plan): StepBrief {
  return {
    summary: plan.summary,
    track: plan.track ?? "experiment",
    assumptions: plan.assumptions ?? [],
    risks: plan.risks,
    lessons: plan.lessonsApplied ?? [],
  };
}

/** tech-lead → specialist: carry out one step (`mllead.work.step.<role>`). */
export const StepWork = z.object({
  v: Version,
  taskId: Id,
  stepId: Id,
  attempt: z.number().int().positive(),
  role: Role,
  step: Step,
  task: z.object({ text: z.string(), requester: Person, slack: SlackRef }),
  /** Results of every step this one depends on, transitively. */
  upstream: z.array(UpstreamResult).default([]),
  /** On a fix round: the reviewer's findings this attempt must address. */
  findings: z.array(Finding).default([]),
  /** The steps the reviewer must read (their results and changed files). */
  reviewScope: z.array(UpstreamResult).default([]),
  brain: BrainKind,
  /** The plan around the step (see StepBrief); absent in work dispatched before briefs existed. */
  brief: StepBrief.optional(),
});
export type StepWork = z.infer<typeof StepWork>;

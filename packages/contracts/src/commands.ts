import { z } from "zod";
import { BrainKind, Id, Person, Role, SlackRef, Timestamp, Version } from "./common.js";
import { Step } from "./plan.js";
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
 * What a person decides in a task's thread: on the plan (approve, request changes), on a Claude call
 * of the tech lead that failed (`retry` runs it again), at the task's budget (`continue` allows
 * another budget's worth; `cancel` stops), or to drop the task (`cancel`).
 */
export const Decision = z.enum(["approve", "request_changes", "cancel", "retry", "continue"]);
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
});
export type StepWork = z.infer<typeof StepWork>;

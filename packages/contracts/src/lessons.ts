import { z } from "zod";
import { Id, Role, Timestamp, Version } from "./common.js";
import { ReviewCategory } from "./results.js";

/** Lessons one channel keeps at most; past it, the one reinforced least recently is dropped. */
export const MAX_LESSONS_PER_CHANNEL = 50;
/** Characters of a lesson's rule (one short imperative sentence). */
export const LESSON_RULE_MAX = 200;
/** Characters kept of what a lesson came from (a change request, a finding). */
export const LESSON_QUOTE_MAX = 300;
/** Source keys a channel remembers, so a redelivered decision or review records nothing twice. */
export const MAX_REMEMBERED_LESSON_SOURCES = 200;

/** A lesson's id within its channel: `L1`, `L2`, … never reused in that channel. */
export const LessonId = z.string().regex(/^L\d{1,6}$/, "lesson ids look like L3");
export type LessonId = z.infer<typeof LessonId>;

/** The settings a lesson can carry as data, so a planner applies it without reading prose. */
export const LESSON_SETTINGS = ["epochs", "learningRate", "batchSize", "seed", "model"] as const;
export const LessonSettingName = z.enum(LESSON_SETTINGS);
export type LessonSettingName = z.infer<typeof LessonSettingName>;

/** A setting as a lesson holds it: `{ name: "epochs", value: 20 }`, `{ name: "model", value: "mlp" }`. */
export const LessonSetting = z.object({
  name: LessonSettingName,
  value: z.union([z.number().nonnegative(), z.string().min(1).max(100)]),
});
export type LessonSetting = z.infer<typeof LessonSetting>;

/**
 * How far a correction reaches: `standing` is a rule for the channel's later tasks (kept as a lesson);
 * `one-off` is about this task only ("use 30 epochs for this one") and is never kept.
 */
export const LessonScope = z.enum(["standing", "one-off"]);
export type LessonScope = z.infer<typeof LessonScope>;

/**
 * A lesson a brain drew from a correction, before the tech lead stores it (standing ones only): the rule,
 * the setting it carries when it is one, and the roles whose steps it affects (empty = decided by the rule).
 */
export const LearnedLesson = z.object({
  scope: LessonScope,
  /** Short and imperative, e.g. "Fit the scaler on the train split only". */
  rule: z.string().min(1).max(LESSON_RULE_MAX),
  setting: LessonSetting.optional(),
  roles: z.array(Role).max(4).default([]),
  /**
   * The id of a lesson the channel keeps that this one says again: the book then reinforces that lesson (newer
   * wording, `times` + 1) instead of adding another. The brain decides it (the offline brain by the rules' words,
   * the Claude brain in its schema); the tech lead never compares the prose itself.
   */
  reinforces: LessonId.optional(),
});
export type LearnedLesson = z.infer<typeof LearnedLesson>;

/** Where a lesson came from: a person's change request on a plan, or a reviewer's finding that led to a fix round. */
export const LessonSource = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("change_request"),
    taskId: Id,
    /** The person's words, cut to LESSON_QUOTE_MAX. */
    text: z.string().max(LESSON_QUOTE_MAX),
  }),
  z.object({
    kind: z.literal("review_finding"),
    taskId: Id,
    /** The finding's message, cut to LESSON_QUOTE_MAX. */
    text: z.string().max(LESSON_QUOTE_MAX),
    severity: z.enum(["blocker", "major", "minor", "nit"]),
    category: ReviewCategory,
    /** The step that owned the code the finding was about. */
    stepId: Id.optional(),
  }),
]);
export type LessonSource = z.infer<typeof LessonSource>;

/** One rule the tech lead keeps for a channel, with what it came from, who and when. */
export const Lesson = z.object({
  id: LessonId,
  channel: z.string().min(1).max(100),
  /** Short and imperative, e.g. "Train for 20 epochs unless told otherwise". */
  rule: z.string().min(1).max(LESSON_RULE_MAX),
  /** Set when the rule is a setting: planners apply it like a change request. */
  setting: LessonSetting.optional(),
  /** The roles whose steps the rule concerns (from a finding's owning step); empty = decided by the rule's words. */
  roles: z.array(Role).max(4).default([]),
  source: LessonSource,
  /** The Slack user who asked for the change, or `code-reviewer`. */
  by: z.string().min(1).max(100),
  /** When it was first recorded. */
  at: Timestamp,
  /** When it was last recorded again (a similar correction reinforces it instead of adding another). */
  lastAt: Timestamp,
  /** How many corrections taught it. */
  times: z.number().int().positive().default(1),
});
export type Lesson = z.infer<typeof Lesson>;

/** A channel's lessons as kept in the `mllead_lessons` KV bucket (key: the channel, see `lessonsKey`). */
export const ChannelLessons = z.object({
  v: Version,
  channel: z.string().min(1).max(100),
  /** The number of the next lesson id (`L<nextId>`). */
  nextId: z.number().int().positive().default(1),
  /** Oldest first; at most MAX_LESSONS_PER_CHANNEL. */
  lessons: z.array(Lesson).max(MAX_LESSONS_PER_CHANNEL).default([]),
  /** Keys of the corrections already recorded (most recent last, bounded). */
  sources: z.array(z.string().max(200)).max(MAX_REMEMBERED_LESSON_SOURCES).default([]),
});
export type ChannelLessons = z.infer<typeof ChannelLessons>;

/** A lesson a plan followed, as the plan lists it. */
export const AppliedLesson = z.object({
  id: LessonId,
  text: z.string().min(1).max(LESSON_RULE_MAX),
});
export type AppliedLesson = z.infer<typeof AppliedLesson>;

/** The KV key of a channel's lessons: the channel id, or a hex form when it holds characters KV keys do not allow. */
export function lessonsKey(channel: string): string {
  return /^[A-Za-z0-9_-]+$/.test(channel) ? channel : `x${Buffer.from(channel, "utf8").toString("hex").slice(0, 200)}`;
}

/**
 * `mllead.q.lessons`: the lessons of `channel` (where `/mllead lessons` was run), or — with `forget`
 * (a number as listed, or a lesson id) — forget one of them first. Only that channel's lessons are
 * read or changed; anyone who can run the command in the channel may forget one.
 */
export const LessonsQuery = z.object({
  v: Version,
  channel: z.string().min(1).max(100),
  /** The Slack user who asked (logged with a forget). */
  userId: z.string().max(100).optional(),
  /** `3` (the third as listed) or `L7` (an id). */
  forget: z.string().min(1).max(20).optional(),
});
export type LessonsQuery = z.infer<typeof LessonsQuery>;

export const LessonsReply = z.union([
  z.object({
    v: Version,
    ok: z.literal(true),
    channel: z.string(),
    /** Oldest first, as numbered in `/mllead lessons`. */
    lessons: z.array(Lesson),
    /** Set after a forget: the lesson removed. */
    forgotten: Lesson.optional(),
  }),
  // The error shape of every query reply (QueryError), spelt out here: plan.ts imports this module, queries.ts imports plan.ts.
  z.object({ v: Version, ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type LessonsReply = z.infer<typeof LessonsReply>;

import type { Brain } from "@mllead/brain";
import { type Bus, InvalidRecordError, type TypedKv } from "@mllead/bus";
import {
  addUsage,
  BUCKET_SPECS,
  BUCKETS,
  ChannelLessons,
  type LearnedLesson,
  type Lesson,
  type LessonsQuery,
  type LessonsReply,
  lessonsKey,
  type TaskDecide,
  type TaskEvent,
  type TaskRecord,
  type Usage,
} from "@mllead/contracts";
import type { Logger } from "pino";
import { failedReply, messageOf, TechLeadError } from "./errors.js";
import {
  emptyBook,
  forgetLesson,
  type LessonDraft,
  type LessonEntry,
  type LessonOrigin,
  lessonsForPlan,
  recordLessons,
} from "./lesson-book.js";

/** Lessons recorded from one review at most: the distinct rules of its first blocker and major findings. */
const MAX_LESSONS_PER_REVIEW = 5;

/** The standing lessons, as the book records them; the one-off ones are said in the log and dropped. */
function standing(learned: readonly LearnedLesson[], log: Logger): LessonDraft[] {
  const oneOff = learned.filter((l) => l.scope === "one-off").map((l) => l.rule);
  if (oneOff.length > 0) log.info({ oneOff }, "one-off corrections: not kept as channel lessons");
  return learned
    .filter((l) => l.scope === "standing")
    .map(({ rule, setting, roles, reinforces }) => ({
      rule,
      roles,
      ...(setting ? { setting } : {}),
      ...(reinforces ? { reinforces } : {}),
    }));
}

/**
 * The seed's self-improvement loop for one channel at a time: after a person corrects a plan
 * (`request_changes` with feedback) or the reviewer's blocker/major findings start a fix round, the
 * tech lead records the lesson in `mllead_lessons` (one record per channel, compare-and-swap); the
 * next plans in that channel get them; `/mllead lessons` lists them and forgets one.
 *
 * The brain reads each correction (`Brain.learn`, `Brain.lessonFromFinding`): the offline brain with its
 * fixed rules, the Claude brain in a schema. Only `standing` lessons are kept; a `one-off` ("use 30 epochs
 * for this one") shaped its own task's plan and is not a rule for the channel.
 *
 * Lessons help and never block: a failure to learn, read or record them is logged and the task goes on.
 */
export class Lessons {
  private constructor(
    private readonly kv: TypedKv<typeof ChannelLessons>,
    private readonly brain: Pick<Brain, "learn" | "lessonFromFinding">,
    private readonly log: Logger,
    private readonly now: () => string,
  ) {}

  /** Provisions the bucket (the tech lead owns it) and opens it. */
  static async open(
    bus: Bus,
    brain: Pick<Brain, "learn" | "lessonFromFinding">,
    log: Logger,
    now: () => string,
  ): Promise<Lessons> {
    await bus.ensureBucket(BUCKET_SPECS.lessons);
    return new Lessons(await bus.kv(BUCKETS.lessons, ChannelLessons), brain, log.child({ component: "lessons" }), now);
  }

  /** A channel's book (empty when it has none, or when its record is damaged: that is logged). */
  async book(channel: string): Promise<ChannelLessons> {
    try {
      return (await this.kv.get(lessonsKey(channel)))?.value ?? emptyBook(channel);
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      this.log.error(
        { err, channel },
        "a channel's lessons record does not parse; it is treated as empty and replaced on the next lesson",
      );
      return emptyBook(channel);
    }
  }

  /** Changes a channel's book with compare-and-swap (creating it on first use); `fn` returns null for no change. */
  private async change(channel: string, fn: (b: ChannelLessons) => ChannelLessons | null): Promise<void> {
    const key = lessonsKey(channel);
    for (let i = 0; i < 10; i++) {
      let current: ChannelLessons | null;
      try {
        current = (await this.kv.get(key))?.value ?? null;
      } catch (err) {
        if (!(err instanceof InvalidRecordError)) throw err;
        this.log.error({ err, channel, raw: err.raw.slice(0, 2000) }, "replacing a channel's lessons record that does not parse");
        const fresh = fn(emptyBook(channel));
        if (fresh) await this.kv.put(key, fresh);
        return;
      }
      if (current) {
        await this.kv.mutate(key, fn);
        return;
      }
      const first = fn(emptyBook(channel));
      if (!first) return;
      // Another writer created it in between: go round and change theirs.
      if ((await this.kv.create(key, first)) !== null) return;
    }
    throw new TechLeadError("lessons_contended", `the lessons of ${channel} kept changing while being written`);
  }

  private async record(channel: string, entries: LessonEntry[], origin: LessonOrigin, log: Logger): Promise<void> {
    let touched: Lesson[] = [];
    await this.change(channel, (b) => {
      const out = recordLessons(b, entries, origin);
      touched = out?.touched ?? [];
      return out?.book ?? null;
    });
    if (touched.length > 0) log.info({ channel, lessons: touched.map((l) => `${l.id}: ${l.rule}`) }, "lessons recorded");
  }

  /** The lessons a plan for `task` should follow (never throws: without them the plan is written as before). */
  async forPlan(task: TaskRecord): Promise<Lesson[]> {
    try {
      return lessonsForPlan(await this.book(task.slack.channel), task.id);
    } catch (err) {
      this.log.error({ err, taskId: task.id }, "could not read the channel's lessons; planning without them");
      return [];
    }
  }

  /**
   * After a decision was applied: a person's change request that the task took teaches the lessons the
   * brain marks standing. Returns what the brain's calls cost (for the task's usage). Never throws.
   */
  async afterDecision(cmd: TaskDecide, task: TaskRecord | null): Promise<Usage | undefined> {
    const feedback = cmd.feedback?.trim();
    if (cmd.decision !== "request_changes" || !feedback || !task) return undefined;
    // Only a change the task accepted (not one refused as stale or from someone who may not decide).
    const accepted =
      task.decisions.includes(cmd.decisionId) && task.feedback.some((f) => f.userId === cmd.userId && f.text === feedback);
    if (!accepted) return undefined;
    const log = this.log.child({ taskId: task.id });
    const key = `decision:${cmd.decisionId}`;
    const spent: Usage[] = [];
    try {
      const book = await this.book(task.slack.channel);
      // A redelivered decision was learnt from already: the brain is not asked again.
      if (book.sources.includes(key)) return undefined;
      const learned = await this.brain.learn({
        taskId: task.id,
        feedback,
        ...(task.plan ? { plan: task.plan } : {}),
        lessons: book.lessons,
        onUsage: (u) => spent.push(u),
      });
      const source = { kind: "change_request" as const, taskId: task.id, text: feedback };
      const entries = standing(learned, log).map((draft) => ({ draft, source }));
      await this.record(task.slack.channel, entries, { key, by: cmd.userId, at: this.now() }, log);
    } catch (err) {
      log.error({ err }, "could not learn from a change request");
    }
    return spent.length > 0 ? addUsage(...spent) : undefined;
  }

  /**
   * After a step report was applied: a review whose blocker or major findings started a fix round
   * teaches the standing lesson of each finding the brain draws one from (at most MAX_LESSONS_PER_REVIEW).
   * Returns what the brain's calls cost. Never throws.
   */
  async afterStepEvent(evt: TaskEvent, task: TaskRecord | null): Promise<Usage | undefined> {
    if (evt.type !== "step.completed" || evt.role !== "code-reviewer" || !task?.plan) return undefined;
    const verdict = evt.result.verdict;
    // The fix round began: the task is fixing and the review step moved on to its next attempt.
    const fixing = task.state === "fixing" && (task.steps[evt.stepId]?.attempt ?? 0) > evt.attempt;
    if (verdict?.decision !== "request_changes" || !fixing) return undefined;
    const plan = task.plan;
    const log = this.log.child({ taskId: task.id, stepId: evt.stepId });
    const key = `review:${task.id}:${evt.stepId}:${evt.attempt}`;
    const spent: Usage[] = [];
    try {
      const book = await this.book(task.slack.channel);
      if (book.sources.includes(key)) return undefined;
      const entries: LessonEntry[] = [];
      const serious = verdict.findings.filter((f) => f.severity === "blocker" || f.severity === "major");
      for (const f of serious.slice(0, MAX_LESSONS_PER_REVIEW)) {
        const owner = plan.steps.find((s) => s.id === f.ownerStepId);
        const learned = await this.brain.lessonFromFinding({
          taskId: task.id,
          finding: f,
          ...(owner ? { ownerRole: owner.role } : {}),
          plan,
          lessons: book.lessons,
          onUsage: (u) => spent.push(u),
        });
        const [draft] = standing(learned ? [learned] : [], log);
        if (!draft || entries.some((e) => e.draft.rule === draft.rule)) continue;
        entries.push({
          draft,
          source: {
            kind: "review_finding",
            taskId: task.id,
            text: f.message,
            severity: f.severity,
            category: f.category,
            ...(owner ? { stepId: owner.id } : {}),
          },
        });
      }
      await this.record(task.slack.channel, entries, { key, by: "code-reviewer", at: this.now() }, log);
    } catch (err) {
      log.error({ err }, "could not learn from a review");
    }
    return spent.length > 0 ? addUsage(...spent) : undefined;
  }

  /**
   * The answer to `/mllead lessons` (and `… forget <n|id>`): only the asking channel's lessons are
   * read or changed. Anyone who can run the command in that channel may forget one of its lessons:
   * they are the channel's shared notes, and a wrong one should not wait for a particular person.
   * Never throws: a failure is an `ok: false` reply the gateway shows as a sentence.
   */
  async answer(q: LessonsQuery): Promise<LessonsReply> {
    try {
      if (q.forget === undefined) {
        return { v: 1, ok: true, channel: q.channel, lessons: (await this.book(q.channel)).lessons };
      }
      const target = q.forget;
      let forgotten: Lesson | undefined;
      await this.change(q.channel, (b) => {
        const out = forgetLesson(b, target);
        forgotten = out?.forgotten;
        return out?.book ?? null;
      });
      const lessons = (await this.book(q.channel)).lessons;
      if (!forgotten) {
        return failedReply(
          "no_such_lesson",
          `this channel has no lesson ${target.slice(0, 20)} (it has ${lessons.length}; use its number or id as listed)`,
        );
      }
      this.log.info({ channel: q.channel, userId: q.userId, lesson: forgotten.id, rule: forgotten.rule }, "lesson forgotten");
      return { v: 1, ok: true, channel: q.channel, lessons, forgotten };
    } catch (err) {
      this.log.error({ err, channel: q.channel }, "lessons query failed");
      return failedReply("lessons_failed", `the lessons could not be read (${messageOf(err)})`);
    }
  }
}

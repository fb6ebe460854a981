import {
  type ChannelLessons,
  LESSON_QUOTE_MAX,
  type LearnedLesson,
  type Lesson,
  type LessonSource,
  MAX_LESSONS_PER_CHANNEL,
  MAX_REMEMBERED_LESSON_SOURCES,
  ROLES,
  type Role,
} from "@mllead/contracts";

/**
 * A channel's lessons as pure functions over its stored record: record (deduplicated and bounded),
 * forget, and the ones a plan gets. Nothing here does I/O; `lessons.ts` keeps the record in KV.
 */

/** A channel with no lessons yet. */
export function emptyBook(channel: string): ChannelLessons {
  return { v: 1, channel, nextId: 1, lessons: [], sources: [] };
}

/**
 * The kept lesson a new one says again: the one the brain named in `reinforces` (when the book still keeps it), or
 * the one that carries the same setting (a newer value replaces the older). The book compares no prose: whether
 * two rules say the same thing is the brain's call.
 */
function sameLesson(kept: readonly Lesson[], draft: LessonDraft): Lesson | undefined {
  const named = draft.reinforces ? kept.find((l) => l.id === draft.reinforces) : undefined;
  if (named) return named;
  return draft.setting ? kept.find((l) => l.setting?.name === draft.setting?.name) : undefined;
}

/** A standing lesson before the book gives it an id: its rule, setting and the roles it concerns. */
export type LessonDraft = Omit<LearnedLesson, "scope">;

/** One lesson to record and what it came from. */
export interface LessonEntry {
  draft: LessonDraft;
  source: LessonSource;
}

/** Who taught a batch of lessons, when, and the key that makes recording it again a no-op. */
export interface LessonOrigin {
  /** E.g. the decision id of a change request, or `<taskId>:review:<stepId>:<attempt>`. */
  key: string;
  /** The Slack user, or `code-reviewer`. */
  by: string;
  at: string;
}

function quoted(source: LessonSource): LessonSource {
  const text = source.text.replace(/\s+/g, " ").trim();
  return { ...source, text: text.length > LESSON_QUOTE_MAX ? `${text.slice(0, LESSON_QUOTE_MAX - 1)}…` : text };
}

function mergeRoles(a: readonly Role[], b: readonly Role[]): Role[] {
  // Both empty means "by the rule's words"; one empty means that, too (the wider reading wins).
  if (a.length === 0 || b.length === 0) return [];
  return ROLES.filter((r) => a.includes(r) || b.includes(r));
}

/**
 * Records lessons in a channel's book. A lesson similar to one already kept reinforces it (same id and
 * place, the newer wording and setting, the newer source, `times` + 1) instead of adding another; a new
 * one gets the next id. Past MAX_LESSONS_PER_CHANNEL the lesson reinforced least recently is dropped.
 * Returns null when `origin.key` was already recorded (a redelivery) or there is nothing to record.
 */
export function recordLessons(
  book: ChannelLessons,
  entries: readonly LessonEntry[],
  origin: LessonOrigin,
): { book: ChannelLessons; touched: Lesson[] } | null {
  if (entries.length === 0 || book.sources.includes(origin.key)) return null;
  const next: ChannelLessons = structuredClone(book);
  const touched: Lesson[] = [];
  for (const { draft, source } of entries) {
    const same = sameLesson(next.lessons, draft);
    if (same) {
      same.rule = draft.rule;
      if (draft.setting) same.setting = draft.setting;
      else delete same.setting;
      same.roles = mergeRoles(same.roles, draft.roles);
      same.source = quoted(source);
      same.by = origin.by;
      same.lastAt = origin.at;
      // One correction reinforces a lesson once, however many of its findings say the same.
      if (!touched.includes(same)) {
        same.times += 1;
        touched.push(same);
      }
      continue;
    }
    const lesson: Lesson = {
      id: `L${next.nextId}`,
      channel: book.channel,
      rule: draft.rule,
      ...(draft.setting ? { setting: draft.setting } : {}),
      roles: [...draft.roles],
      source: quoted(source),
      by: origin.by,
      at: origin.at,
      lastAt: origin.at,
      times: 1,
    };
    next.nextId += 1;
    next.lessons.push(lesson);
    touched.push(lesson);
  }
  while (next.lessons.length > MAX_LESSONS_PER_CHANNEL) {
    const stalest = next.lessons.reduce((old, l) => (l.lastAt < old.lastAt ? l : old));
    next.lessons.splice(next.lessons.indexOf(stalest), 1);
  }
  next.sources = [...next.sources, origin.key].slice(-MAX_REMEMBERED_LESSON_SOURCES);
  return { book: next, touched: touched.filter((l) => next.lessons.includes(l)) };
}

/** The lesson `target` names: `3` (the third as listed, oldest first) or an id such as `L7`. */
export function findLesson(book: ChannelLessons, target: string): Lesson | undefined {
  const t = target.trim().replace(/^#/, "");
  if (/^\d{1,3}$/.test(t)) return book.lessons[Number(t) - 1];
  if (/^l\d{1,6}$/i.test(t)) return book.lessons.find((l) => l.id === t.toUpperCase());
  return undefined;
}

/** The book without the lesson `target` names, or null when it names none. */
export function forgetLesson(book: ChannelLessons, target: string): { book: ChannelLessons; forgotten: Lesson } | null {
  const forgotten = findLesson(book, target);
  if (!forgotten) return null;
  return { book: { ...book, lessons: book.lessons.filter((l) => l.id !== forgotten.id) }, forgotten };
}

/** The lessons a plan of `taskId` follows: the channel's, less those the task itself taught (its feedback already says them). */
export function lessonsForPlan(book: ChannelLessons, taskId: string): Lesson[] {
  return book.lessons.filter((l) => l.source.taskId !== taskId);
}

import type { Lesson, LessonsReply } from "@mllead/contracts";
import { esc, mention, truncate } from "./blocks.js";

/** What `/mllead lessons` says when a channel has none. */
export const NO_LESSONS =
  "*Lessons:* none yet in this channel. When someone asks for changes to a plan (e.g. `changes: use 20 epochs`) or the code reviewer's findings lead to a fix, the tech lead records the lesson here, and the next plans in this channel follow it.";

/** Where a lesson came from, for people: who, from what, on which task, when. */
function origin(l: Lesson): string {
  const quote = `“${esc(truncate(l.source.text, 140))}”`;
  const day = l.lastAt.slice(0, 10);
  const again = l.times > 1 ? ` · taught ${l.times}×` : "";
  if (l.source.kind === "change_request") {
    return `from ${mention(l.by)}'s change request on \`${l.source.taskId}\`: ${quote} · ${day}${again}`;
  }
  const step = l.source.stepId ? ` in \`${l.source.stepId}\`` : "";
  return `from the code reviewer's ${l.source.severity} ${l.source.category.replace(/_/g, " ")} finding${step} on \`${l.source.taskId}\`: ${quote} · ${day}${again}`;
}

/** The numbered list `/mllead lessons forget <n>` refers to. */
export function renderLessonList(lessons: readonly Lesson[]): string {
  return lessons.map((l, i) => `${i + 1}. \`${l.id}\` *${esc(l.rule)}* — ${origin(l)}`).join("\n");
}

/** The answer to `/mllead lessons` and `/mllead lessons forget <n|id>`. */
export function renderLessonsReply(reply: LessonsReply): string {
  if (!reply.ok) return `I could not do that: ${esc(reply.error.message)}.`;
  const forgot = reply.forgotten
    ? `Forgot \`${reply.forgotten.id}\` (“${esc(reply.forgotten.rule)}”): the next plans in this channel no longer follow it.\n\n`
    : "";
  if (reply.lessons.length === 0) return `${forgot}${NO_LESSONS}`;
  return [
    `${forgot}*Lessons in this channel* (the next plans here follow them; a task's own words win):`,
    renderLessonList(reply.lessons),
    "Forget one with `/mllead lessons forget <number or id>`.",
  ].join("\n");
}

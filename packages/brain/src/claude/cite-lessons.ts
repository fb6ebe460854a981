import { type Lesson, type Plan, type Step, stepKind } from "@mllead/contracts";
import { lessonRequirement } from "../offline/apply-lessons.js";

/** The contract's cap on a step's requirements. */
const MAX_REQUIREMENTS = 20;

/**
 * The steps a lesson affects, from its data alone (no reading of its words): the steps of its roles; else,
 * for a setting, the steps it sets (the seed on every worker, the rest on training and sweeps); else every
 * step but the review.
 */
function affected(plan: Plan, lesson: Lesson): Step[] {
  if (lesson.roles.length > 0) return plan.steps.filter((s) => lesson.roles.includes(s.role));
  const workers = plan.steps.filter((s) => s.role !== "code-reviewer");
  if (lesson.setting && lesson.setting.name !== "seed") {
    return workers.filter((s) => stepKind(s) === "train" || stepKind(s) === "sweep");
  }
  return workers;
}

/**
 * Writes each lesson the plan cites (`lessonsApplied`, already kept to the request's lessons) into the
 * requirements of the steps it affects, as `Lesson L2 from earlier tasks in this channel: …`, so the
 * specialists see it in their handoff. A cited lesson that lands on no step (none of its steps is in the
 * plan, or they have no room) is no longer cited.
 */
export function citeLessons(plan: Plan, lessons: readonly Lesson[] | undefined): Plan {
  const cited = plan.lessonsApplied ?? [];
  if (cited.length === 0) return plan;
  const byId = new Map((lessons ?? []).map((l) => [l.id, l]));
  const steps = plan.steps.map((s) => ({ ...s, requirements: [...s.requirements] }));
  const out: Plan = { ...plan, steps };
  const landed = new Set<string>();
  for (const { id } of cited) {
    const lesson = byId.get(id);
    if (!lesson) continue;
    const line = lessonRequirement(lesson);
    for (const target of affected(out, lesson)) {
      if (target.requirements.includes(line)) landed.add(id);
      else if (target.requirements.length < MAX_REQUIREMENTS) {
        target.requirements.push(line);
        landed.add(id);
      }
    }
  }
  const { lessonsApplied: _, ...rest } = out;
  const kept = cited.filter((c) => landed.has(c.id));
  return kept.length > 0 ? { ...rest, lessonsApplied: kept } : rest;
}

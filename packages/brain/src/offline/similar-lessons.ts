import type { LearnedLesson, Lesson } from "@mllead/contracts";

/** Words that carry no meaning when two rules are compared. */
const FILLER = new Set(
  "a an the to of on in for and or with by at from is are be it its this that every each any all only always never unless told otherwise use"
    .split(" ")
    .filter(Boolean),
);

function words(rule: string): Set<string> {
  return new Set(
    rule
      .toLowerCase()
      .split(/[^a-z0-9.%]+/)
      .map((w) => w.replace(/^\.+|\.+$/g, ""))
      .filter((w) => w.length > 0 && !FILLER.has(w)),
  );
}

/** Share of words two rules have in common at which they count as the same lesson. */
const SAME_RULE = 0.75;

/**
 * True when two lessons say the same thing: the same setting (a newer value replaces the older), or
 * rules whose meaningful words mostly overlap ("Report precision at the top 10%" and "Also report
 * precision at the top 10%"). "Fit the scaler…" and "Fit imputation…" stay two lessons.
 */
export function similarLessons(a: Pick<Lesson, "rule" | "setting">, b: Pick<Lesson, "rule" | "setting">): boolean {
  if (a.setting || b.setting) return a.setting?.name === b.setting?.name;
  const wa = words(a.rule);
  const wb = words(b.rule);
  if (wa.size === 0 || wb.size === 0) return a.rule.trim().toLowerCase() === b.rule.trim().toLowerCase();
  const common = [...wa].filter((w) => wb.has(w)).length;
  return common / (wa.size + wb.size - common) >= SAME_RULE;
}

/**
 * The offline brain's answer to "does this lesson say again what the channel keeps?": each lesson gets
 * `reinforces` = the id of the first kept lesson similar to it (`similarLessons`). The Claude brain answers the same
 * question in its schema; the tech lead's book only follows the id.
 */
export function markReinforced<L extends LearnedLesson>(drafts: readonly L[], kept: readonly Lesson[]): L[] {
  return drafts.map((d) => {
    const same = kept.find((l) => similarLessons(l, d));
    return same ? { ...d, reinforces: same.id } : d;
  });
}

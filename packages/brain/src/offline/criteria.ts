import { type AcceptanceCriterion, numberedCriteria, REVIEW_CRITERIA, type Role, type Step } from "@mllead/contracts";
import { modelName, type ResolvedParams, resolveParams } from "./params.js";

function reviewCriterion(id: string): string {
  const c = REVIEW_CRITERIA.find((r) => r.id === id);
  if (!c) throw new Error(`no review criterion ${id}`);
  return c.text;
}

/**
 * The acceptance criteria the offline planner writes and the offline
 * specialists know how to check, by key. The text follows from the step's
 * params; a specialist recognises a criterion only when its text is exactly
 * what this catalogue renders for the step's params, so a criterion someone
 * else wrote (a person's request, a Claude plan) is never mistaken for one it
 * can check.
 */
const CATALOGUE = {
  "data-engineer": {
    validated: (p: ResolvedParams) =>
      `The validation report shows the schema, null, range and class-balance checks passing for \`${p.dataset}\`.`,
    splits: () => "Train/val/test splits are disjoint and their row counts add up to the validated table.",
    fitOnTrain: () => "Train/val/test split before any fitted transform: imputation statistics come from the train split only.",
    seeded: (p: ResolvedParams) => `Seeds fixed (${p.seed}): rerunning the pipeline reproduces identical split files.`,
    tests: () => "The pipeline's unit tests pass.",
  },
  "ml-engineer": {
    epochs: (p: ResolvedParams) =>
      `The job completes ${p.epochs} epochs without errors and the final train loss is below the first epoch's.`,
    settings: (p: ResolvedParams) =>
      `The job trains a ${modelName(p.model)} with learning rate ${p.learningRate}, as its \`model_card.json\` records.`,
    baseline: () => "Val AUC reported with a majority-class baseline (baseline accuracy and AUC 0.5) beside it.",
    beatsBaseline: () => "Val AUC beats the baseline's 0.5 by at least 0.05.",
    seeded: (p: ResolvedParams) => `Seeds fixed (${p.seed}) and recorded in \`metrics.json\`.`,
    artifacts: () => "`metrics.json`, `history.json` and `model.npz` are saved as artifacts.",
  },
  analyst: {
    baseline: () => "`reports/report.md` states val AUC and accuracy next to the majority-class baseline, with the lift.",
    lossCurve: () => "The loss curve is plotted to `reports/loss.png`.",
    previous: () =>
      "The report says whether the model beats the previous model, or states that no previous metrics are available.",
    classBalance: () => "`reports/report.md` states the class balance of the target.",
    statistics: () => "Every claimed feature difference carries a test statistic and p-value.",
  },
  // The review's own criteria (REVIEW_CRITERIA, which the plan rules require), in their order.
  "code-reviewer": {
    verdict: () => reviewCriterion("ac1"),
    checks: () => reviewCriterion("ac2"),
    findingsNamed: () => reviewCriterion("ac3"),
    audit: () => reviewCriterion("ac4"),
  },
} as const;

type Catalogue = typeof CATALOGUE;
/** The checks each role knows, e.g. `CheckKey<"ml-engineer">` = `"epochs" | "settings" | …`. */
export type CheckKey<R extends Role> = keyof Catalogue[R] & string;

/** What an offline specialist answers when it cannot check a criterion. */
export const CANNOT_CHECK = "the offline specialist cannot check this; with Claude it would";

/** The criterion a person's plan-review request becomes (no offline specialist can check it). */
function requestCriterion(item: string): string {
  return `Shown with evidence: what plan review asked for ("${item}").`;
}

/** The requirement a person's plan-review request becomes. */
export function requestRequirement(item: string): string {
  return `Requested in plan review: "${item}"`;
}

/**
 * The criteria of an offline step, numbered `ac1`, `ac2`, …: the catalogue's
 * checks for `role` rendered from `params`, then one per plan-review request.
 */
export function offlineCriteria<R extends Role>(
  role: R,
  keys: readonly CheckKey<R>[],
  params: Step["params"],
  requests: readonly string[] = [],
): AcceptanceCriterion[] {
  const p = resolveParams(params);
  const entries = CATALOGUE[role] as Record<string, (p: ResolvedParams) => string>;
  return numberedCriteria(
    ...keys.map((k) => (entries[k] as (p: ResolvedParams) => string)(p)),
    ...requests.map(requestCriterion),
  );
}

/** A step's criterion with the check the offline specialist runs for it (`undefined`: it cannot check it). */
interface IdentifiedCriterion<R extends Role> {
  id: string;
  text: string;
  key: CheckKey<R> | undefined;
}

/** Which of the step's criteria this role's offline specialist can check, by id. */
export function identifyCriteria<R extends Role>(
  role: R,
  step: Pick<Step, "acceptanceCriteria" | "params">,
): IdentifiedCriterion<R>[] {
  const p = resolveParams(step.params);
  const entries = Object.entries(CATALOGUE[role] as Record<string, (p: ResolvedParams) => string>);
  return step.acceptanceCriteria.map(({ id, text }) => {
    const hit = entries.find(([, render]) => render(p) === text);
    return { id, text, key: hit?.[0] as CheckKey<R> | undefined };
  });
}

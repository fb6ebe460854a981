import type { Role } from "./common.js";
import type { AcceptanceCriterion, Plan, Step, StepKind, TaskShape } from "./plan.js";

/** A rule a plan breaks. Plans with problems are repaired or rejected, never executed. */
export interface PlanProblem {
  code:
    | "duplicate_step"
    | "unknown_dependency"
    | "cycle"
    | "missing_review"
    | "review_not_last"
    | "model_before_data"
    | "features_before_data"
    | "scoring_before_training"
    | "report_before_metrics"
    | "triage_out_of_order"
    | "bad_kind"
    | "shape_mismatch"
    | "bad_handoff"
    | "duplicate_criterion"
    | "review_criteria";
  message: string;
  stepId?: string;
}

/**
 * The code reviewer's acceptance criteria: about the review itself, never about the code being right. A
 * reviewer that finds leakage has done its job — the finding goes back to the step that owns the code in a
 * fix round — so "the code is leak-free" is a requirement of the review (what to look for), not a criterion
 * it could fail. Every code-reviewer step has exactly these (`validatePlan`).
 */
export const REVIEW_CRITERIA: readonly AcceptanceCriterion[] = [
  {
    id: "ac1",
    text: "A structured verdict (approve or request_changes) with a summary; request_changes exactly when a blocker or major finding exists.",
  },
  {
    id: "ac2",
    text: "One check per ML pitfall (data leakage, reproducibility, numerical stability, memory, type hints, documentation, tests): pass, fail or n/a, each with its evidence.",
  },
  {
    id: "ac3",
    text: "Every finding names its file, severity, category and the step that owns the code.",
  },
  {
    id: "ac4",
    text: "Every upstream step's acceptance criteria are audited against their evidence; a claim the change does not support is a finding.",
  },
];

/** Whether a code-reviewer step's criteria are exactly REVIEW_CRITERIA (same ids and texts, any order). */
function reviewCriteriaProblem(s: Step): PlanProblem | undefined {
  const same =
    s.acceptanceCriteria.length === REVIEW_CRITERIA.length &&
    REVIEW_CRITERIA.every((r) => s.acceptanceCriteria.some((c) => c.id === r.id && c.text.trim() === r.text));
  if (same) return undefined;
  return {
    code: "review_criteria",
    stepId: s.id,
    message: `code-reviewer step '${s.id}' must have exactly the review's own acceptance criteria, which are about the review, not the code: ${REVIEW_CRITERIA.map((c) => `${c.id} "${c.text}"`).join("; ")}. Put what the review must look for (e.g. leakage in the scaler) in its requirements: a problem it finds becomes a finding and a fix round, never a failed review.`,
  };
}

/** The kind a step has when the plan gives none: its role's usual work. */
const DEFAULT_KIND: Readonly<Record<Role, StepKind>> = {
  "data-engineer": "data",
  "ml-engineer": "train",
  analyst: "report",
  "code-reviewer": "review",
};

/** Which roles may do each kind of step (the seed's team knowledge). */
const KIND_ROLES: Readonly<Record<StepKind, readonly Role[]>> = {
  data: ["data-engineer"],
  features: ["data-engineer", "ml-engineer"],
  eda: ["analyst"],
  train: ["ml-engineer"],
  sweep: ["ml-engineer"],
  evaluate: ["ml-engineer", "analyst"],
  score: ["ml-engineer"],
  report: ["analyst"],
  investigate: ["data-engineer", "ml-engineer", "analyst"],
  "root-cause": ["data-engineer", "ml-engineer", "analyst"],
  fix: ["data-engineer", "ml-engineer"],
  verify: ["ml-engineer", "analyst"],
  review: ["code-reviewer"],
};

/** The step's kind: the one the plan gives, else its role's usual kind (data-engineer `data`, ml-engineer `train`, analyst `report`, code-reviewer `review`). */
export function stepKind(step: Pick<Step, "role" | "kind">): StepKind {
  return step.kind ?? DEFAULT_KIND[step.role];
}

/** Ids of every step that `id` depends on, directly or not. */
export function ancestors(plan: Pick<Plan, "steps">, id: string): Set<string> {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const seen = new Set<string>();
  const stack = [...(byId.get(id)?.dependsOn ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(byId.get(next)?.dependsOn ?? []));
  }
  return seen;
}

type Is = (s: Step) => boolean;
const kindIs =
  (...kinds: StepKind[]): Is =>
  (s) =>
    kinds.includes(stepKind(s));
/** Data work: what every model step waits for (data before model, features before training). */
const isDataWork: Is = (s) => kindIs("data", "features")(s) || (stepKind(s) === "fix" && s.role === "data-engineer");
/** Model work: training, searching, evaluating or scoring a model, or fixing one. */
const isModelWork: Is = (s) =>
  kindIs("train", "sweep", "evaluate", "score")(s) || (stepKind(s) === "fix" && s.role === "ml-engineer");
const isReview: Is = (s) => s.role === "code-reviewer";

/** "`later` must come after every `earlier`": one ordering rule of the seed. */
interface OrderRule {
  code: PlanProblem["code"];
  later: Is;
  earlier: Is;
  message: (later: Step, earlier: Step) => string;
}

/**
 * The seed's dependency ordering. Steps the rules do not relate may run in parallel: EDA beside or before
 * training, scoring beside the report, the report as soon as the metrics it reads exist.
 */
const ORDER: readonly OrderRule[] = [
  {
    code: "features_before_data",
    later: kindIs("features"),
    earlier: kindIs("data"),
    message: (l, e) => `feature step '${l.id}' must depend on data step '${e.id}': data work comes first`,
  },
  {
    code: "model_before_data",
    later: isModelWork,
    earlier: isDataWork,
    message: (l, e) =>
      `model step '${l.id}' must depend on ${stepKind(e) === "features" ? "feature" : "data"} step '${e.id}': data and features come before model work`,
  },
  {
    code: "scoring_before_training",
    later: kindIs("evaluate", "score"),
    earlier: kindIs("train", "sweep"),
    message: (l, e) => `${stepKind(l)} step '${l.id}' must depend on training step '${e.id}': it needs the trained model`,
  },
  {
    code: "report_before_metrics",
    later: kindIs("report"),
    earlier: kindIs("train", "sweep", "evaluate"),
    message: (l, e) =>
      `analysis step '${l.id}' must depend on model step '${e.id}', whose metrics it reports (an analyst step that needs no model is kind "eda")`,
  },
  {
    code: "triage_out_of_order",
    later: kindIs("root-cause"),
    earlier: kindIs("investigate"),
    message: (l, e) => `root-cause step '${l.id}' must depend on investigate step '${e.id}'`,
  },
  {
    code: "triage_out_of_order",
    later: kindIs("fix"),
    earlier: kindIs("investigate", "root-cause"),
    message: (l, e) => `fix step '${l.id}' must depend on ${stepKind(e)} step '${e.id}': find the cause before fixing it`,
  },
  {
    code: "triage_out_of_order",
    later: kindIs("verify"),
    earlier: kindIs("fix"),
    message: (l, e) => `verify step '${l.id}' must depend on fix step '${e.id}'`,
  },
  {
    code: "review_not_last",
    later: isReview,
    earlier: (s) => !isReview(s),
    message: (l, e) =>
      `review '${l.id}' must come after '${e.id}': the code review runs after every other step, so the task cannot finish before one`,
  },
];

/** What each shape must hold, as a problem message, or undefined when it does. */
const SHAPE_NEEDS: Readonly<Record<TaskShape, (workers: Step[]) => string | undefined>> = {
  "single-specialist": (w) =>
    new Set(w.map((s) => s.role)).size === 1 ? undefined : "a single-specialist plan has one specialist besides the reviewer",
  "experiment-cycle": (w) => (w.some(kindIs("train", "sweep")) ? undefined : "an experiment cycle needs a train or sweep step"),
  exploration: (w) =>
    w.some(kindIs("eda", "report")) && !w.some(kindIs("train", "sweep"))
      ? undefined
      : "an exploration has an eda or report step and trains no model",
  "data-quality": (w) =>
    w.some(isDataWork) ? undefined : "a data-quality overhaul needs a data step (kind data, or a data-engineer fix)",
  triage: (w) =>
    w.some(kindIs("investigate", "root-cause")) && w.some(kindIs("fix")) && w.some(kindIs("verify"))
      ? undefined
      : "a triage needs investigate (or root-cause), fix and verify steps: investigate → root cause → fix → verify",
  sweep: (w) => (w.some(kindIs("sweep")) ? undefined : "a sweep plan needs a sweep step"),
};

function structure(plan: Pick<Plan, "steps">): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const ids = new Set<string>();
  for (const s of plan.steps) {
    if (ids.has(s.id)) problems.push({ code: "duplicate_step", message: `step id '${s.id}' is used twice`, stepId: s.id });
    ids.add(s.id);
  }
  for (const s of plan.steps) {
    for (const d of s.dependsOn) {
      if (!ids.has(d))
        problems.push({ code: "unknown_dependency", message: `step '${s.id}' depends on unknown step '${d}'`, stepId: s.id });
    }
    const criteria = new Set<string>();
    for (const c of s.acceptanceCriteria) {
      if (criteria.has(c.id)) {
        problems.push({
          code: "duplicate_criterion",
          message: `step '${s.id}' uses acceptance criterion id '${c.id}' twice`,
          stepId: s.id,
        });
      }
      criteria.add(c.id);
    }
    if (s.nextHandoff.to === s.role) {
      problems.push({ code: "bad_handoff", message: `step '${s.id}' hands off to its own role`, stepId: s.id });
    }
  }
  return problems;
}

function kinds(plan: Pick<Plan, "steps">): PlanProblem[] {
  const problems: PlanProblem[] = [];
  for (const s of plan.steps) {
    const kind = stepKind(s);
    if (!KIND_ROLES[kind].includes(s.role)) {
      problems.push({
        code: "bad_kind",
        message: `step '${s.id}' is kind "${kind}", which the ${s.role} does not do (${KIND_ROLES[kind].join(" or ")} does)`,
        stepId: s.id,
      });
    }
    if (kind === "sweep" && (s.params.trials ?? 0) < 2) {
      problems.push({
        code: "bad_kind",
        message: `sweep step '${s.id}' needs params.trials of 2 or more (one trial is a single run: kind "train")`,
        stepId: s.id,
      });
    }
  }
  return problems;
}

/**
 * Checks a plan against the seed's rules: a DAG with known, unique ids; each step's kind one its role does;
 * data before model work, features before training, scoring and evaluation after training, a report after
 * the metrics it reads, a triage in order (investigate → root cause → fix → verify); the code reviewer
 * present and after every other step (so a task cannot finish while a step still runs), with the review's own
 * criteria (REVIEW_CRITERIA); and, when the plan
 * names its shape, the steps that shape needs. Returns every problem found (empty = valid).
 */
export function validatePlan(plan: Pick<Plan, "steps"> & Partial<Pick<Plan, "shape">>): PlanProblem[] {
  const problems = structure(plan);
  if (problems.length > 0) return problems;
  for (const s of plan.steps) {
    if (ancestors(plan, s.id).has(s.id)) {
      problems.push({ code: "cycle", message: `step '${s.id}' depends on itself through a cycle`, stepId: s.id });
    }
  }
  if (problems.length > 0) return problems;

  problems.push(...kinds(plan));
  for (const s of plan.steps.filter(isReview)) {
    const p = reviewCriteriaProblem(s);
    if (p) problems.push(p);
  }
  if (!plan.steps.some(isReview)) {
    problems.push({ code: "missing_review", message: "every plan needs a code-reviewer step: it is the mandatory quality gate" });
  }
  for (const s of plan.steps) {
    const before = ancestors(plan, s.id);
    for (const rule of ORDER) {
      if (!rule.later(s)) continue;
      for (const other of plan.steps) {
        if (other.id !== s.id && rule.earlier(other) && !before.has(other.id)) {
          problems.push({ code: rule.code, message: rule.message(s, other), stepId: s.id });
        }
      }
    }
  }
  if (plan.shape) {
    const missing = SHAPE_NEEDS[plan.shape](plan.steps.filter((s) => !isReview(s)));
    if (missing) problems.push({ code: "shape_mismatch", message: `the plan is shaped "${plan.shape}", but ${missing}` });
  }
  return problems;
}

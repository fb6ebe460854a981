import { z } from "zod";
import { BrainKind, Id, Role } from "./common.js";

/**
 * One acceptance criterion: a measurable outcome with an id that the specialist's
 * result answers (`met` + evidence). A step completes only when every one is met.
 */
export const AcceptanceCriterion = z.object({
  /** Short and unique within the step, e.g. `ac1`. */
  id: Id,
  text: z.string().min(1).max(1000),
});
export type AcceptanceCriterion = z.infer<typeof AcceptanceCriterion>;

/** Criteria with the ids `ac1`, `ac2`, … in order, for plans written in code. */
export function numberedCriteria(...texts: string[]): AcceptanceCriterion[] {
  return texts.map((text, i) => ({ id: `ac${i + 1}`, text }));
}

/**
 * Settings an executor needs, as data rather than prose: the plan carries them,
 * the specialist reads them, a revision changes them. Every field is optional;
 * prose in `requirements` is for people only and is never parsed back.
 */
export const StepParams = z.object({
  /** The table, file or folder the step works on (a path in the repository or a data dir, or a table name). */
  dataset: z.string().min(1).max(300).optional(),
  /** The label column. */
  target: z.string().min(1).max(100).optional(),
  /** The model family or checkpoint, e.g. `logreg`, `mlp`, `bert-base-uncased`. */
  model: z.string().min(1).max(200).optional(),
  epochs: z.number().int().min(1).max(10_000).optional(),
  learningRate: z.number().positive().max(10).optional(),
  batchSize: z.number().int().min(1).max(1_000_000).optional(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  /** Trials of a hyper-parameter sweep (Optuna-style); absent = a single run. */
  trials: z.number().int().min(1).max(10_000).optional(),
  /** The metric that decides, e.g. `val_auc`. */
  metric: z.string().min(1).max(100).optional(),
  /** GPUs a training job asks for. */
  gpus: z.number().int().min(0).max(16).optional(),
  /** Anything else an executor needs, by name. */
  extra: z
    .array(z.object({ name: z.string().min(1).max(100), value: z.string().max(500) }))
    .max(20)
    .optional(),
});
export type StepParams = z.infer<typeof StepParams>;

/**
 * One delegated step, in the seed's handoff format: objective, context,
 * specific requirements, acceptance criteria and the next handoff.
 */
export const Step = z.object({
  id: Id,
  role: Role,
  title: z.string().min(1).max(150),
  objective: z.string().min(1).max(3000),
  context: z.string().max(3000),
  requirements: z.array(z.string().min(1).max(1000)).min(1).max(20),
  acceptanceCriteria: z.array(AcceptanceCriterion).min(1).max(20),
  /** Structured settings for the executor (see StepParams). */
  params: StepParams.default({}),
  nextHandoff: z.object({
    to: z.union([Role, z.literal("tech-lead")]),
    reason: z.string().min(1).max(500),
  }),
  dependsOn: z.array(Id).max(20).default([]),
  /** Whether the step changes code (and so must pass through the code reviewer). */
  changesCode: z.boolean().default(false),
  /** Whether the step runs a job on a GPU host. */
  usesGpu: z.boolean().default(false),
});
export type Step = z.infer<typeof Step>;

export const Risk = z.object({
  risk: z.string().min(1).max(500),
  mitigation: z.string().min(1).max(500),
});
export type Risk = z.infer<typeof Risk>;

export const Plan = z.object({
  /** One or two sentences: what the team will do and why this shape. */
  summary: z.string().min(1).max(2000),
  /** Single-agent or orchestrated, per the seed's scope assessment. */
  scope: z.enum(["single-agent", "multi-agent"]),
  risks: z.array(Risk).max(10),
  steps: z.array(Step).min(1).max(12),
  brain: BrainKind,
});
export type Plan = z.infer<typeof Plan>;

/** A rule a plan breaks. Plans with problems are repaired or rejected, never executed. */
export interface PlanProblem {
  code:
    | "duplicate_step"
    | "unknown_dependency"
    | "cycle"
    | "missing_review"
    | "review_not_last"
    | "model_before_data"
    | "report_before_metrics"
    | "bad_handoff"
    | "duplicate_criterion";
  message: string;
  stepId?: string;
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

/**
 * Checks a plan against the seed's ordering rules: a DAG; data work before model
 * work; analysis after the metrics it reads; the code reviewer present and last,
 * after every step that changes code. Returns every problem found (empty = valid).
 */
export function validatePlan(plan: Pick<Plan, "steps">): PlanProblem[] {
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
  if (problems.length > 0) return problems;

  for (const s of plan.steps) {
    if (ancestors(plan, s.id).has(s.id)) {
      problems.push({ code: "cycle", message: `step '${s.id}' depends on itself through a cycle`, stepId: s.id });
    }
  }
  if (problems.length > 0) return problems;

  const reviews = plan.steps.filter((s) => s.role === "code-reviewer");
  if (reviews.length === 0) {
    problems.push({ code: "missing_review", message: "every plan needs a code-reviewer step: it is the mandatory quality gate" });
  }
  for (const r of reviews) {
    const before = ancestors(plan, r.id);
    for (const s of plan.steps) {
      if (s.role !== "code-reviewer" && s.changesCode && !before.has(s.id)) {
        problems.push({
          code: "review_not_last",
          message: `review '${r.id}' must come after '${s.id}', which changes code`,
          stepId: r.id,
        });
      }
    }
  }
  // The seed's pipeline: data before model, model (metrics) before analysis.
  for (const s of plan.steps) {
    const before = ancestors(plan, s.id);
    for (const other of plan.steps) {
      if (before.has(other.id)) continue;
      if (s.role === "ml-engineer" && other.role === "data-engineer") {
        problems.push({
          code: "model_before_data",
          message: `model step '${s.id}' must depend on data step '${other.id}'`,
          stepId: s.id,
        });
      } else if (s.role === "analyst" && other.role === "ml-engineer") {
        problems.push({
          code: "report_before_metrics",
          message: `analysis step '${s.id}' must depend on model step '${other.id}'`,
          stepId: s.id,
        });
      }
    }
  }
  return problems;
}

/** Steps in an order that respects every dependency (stable: plan order breaks ties). Assumes a valid DAG. */
export function topologicalOrder(plan: Pick<Plan, "steps">): Step[] {
  const done = new Set<string>();
  const out: Step[] = [];
  while (out.length < plan.steps.length) {
    const next = plan.steps.find((s) => !done.has(s.id) && s.dependsOn.every((d) => done.has(d)));
    if (!next) throw new Error("plan has a cycle");
    done.add(next.id);
    out.push(next);
  }
  return out;
}

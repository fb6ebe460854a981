import { z } from "zod";
import { BrainKind, Id, Role } from "./common.js";
import { AppliedLesson, MAX_LESSONS_PER_CHANNEL } from "./lessons.js";

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
 * What a step does in the seed's pipeline; the ordering rules (`validatePlan`) read it, so an EDA step
 * before training or a scoring step after it is told apart from a report written before its metrics exist.
 * A step without one has its role's usual kind (`stepKind`): data-engineer `data`, ml-engineer `train`,
 * analyst `report`, code-reviewer `review` — so plans written before kinds existed keep their meaning.
 */
export const STEP_KINDS = [
  /** Ingest, validate, clean and split data (data-engineer). */
  "data",
  /** Build feature sets (data-engineer or ml-engineer); training depends on it. */
  "features",
  /** Explore the data (analyst): needs no model, may run before or beside training. */
  "eda",
  /** One training run (ml-engineer). */
  "train",
  /** A hyper-parameter search (ml-engineer, Optuna-style): `params.trials` runs, the best kept. */
  "sweep",
  /** Evaluate a trained model (ml-engineer or analyst): after training. */
  "evaluate",
  /** Score data with a trained model (ml-engineer): after training. */
  "score",
  /** Read the metrics and write the report (analyst): after every step that produces them. */
  "report",
  /** Triage: gather the evidence of what went wrong. */
  "investigate",
  /** Triage: find the root cause in the evidence. */
  "root-cause",
  /** Triage: change what caused it (data-engineer or ml-engineer). */
  "fix",
  /** Triage: show that the fix recovers the metric (ml-engineer or analyst). */
  "verify",
  /** The code reviewer's gate: after every other step. */
  "review",
] as const;
export const StepKind = z.enum(STEP_KINDS);
export type StepKind = z.infer<typeof StepKind>;

/**
 * One delegated step, in the seed's handoff format: objective, context,
 * specific requirements, acceptance criteria and the next handoff.
 */
export const Step = z.object({
  id: Id,
  role: Role,
  /** What the step does (see STEP_KINDS); absent = the role's usual kind. */
  kind: StepKind.optional(),
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
  /** Whether the step writes or changes code (the reviewer reads its diff; the review runs after every step either way). */
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

/**
 * The shapes of the seed's task analysis: one specialist; a full experiment cycle (data → model → report);
 * an exploration (EDA); a data-quality overhaul; a regression triage (investigate → root cause → fix →
 * verify); an optimisation sweep rather than a single run. Each ends with the code review.
 */
export const TASK_SHAPES = ["single-specialist", "experiment-cycle", "exploration", "data-quality", "triage", "sweep"] as const;
export const TaskShape = z.enum(TASK_SHAPES);
export type TaskShape = z.infer<typeof TaskShape>;

/**
 * The seed's speed-versus-correctness rule: an experiment leans to speed (results fast, then iterate);
 * production leans to correctness (tests, validation, no regression against the model it replaces).
 */
export const PlanTrack = z.enum(["experiment", "production"]);
export type PlanTrack = z.infer<typeof PlanTrack>;

/** Most questions one plan may ask before it can be approved. */
export const MAX_PLAN_QUESTIONS = 5;

/**
 * Something the tech lead must know before the work can start, asked in the thread (the seed's decision
 * framework: ask when the request is ambiguous instead of inventing). With `choices`, a person answers with a
 * button; any question can also be answered by a reply. The plan cannot be approved while one is open.
 */
export const PlanQuestion = z.object({
  /** Short and unique within the plan, e.g. `target`. */
  id: Id,
  text: z.string().min(1).max(500),
  /** Suggested answers, shown as buttons (a reply may still say anything). */
  choices: z.array(z.string().min(1).max(75)).max(5).optional(),
});
export type PlanQuestion = z.infer<typeof PlanQuestion>;

export const Plan = z.object({
  /** One or two sentences: what the team will do and why this shape. */
  summary: z.string().min(1).max(2000),
  /** Single-agent or orchestrated, per the seed's scope assessment. */
  scope: z.enum(["single-agent", "multi-agent"]),
  /** The task's shape; absent (plans written before shapes) = no shape check. */
  shape: TaskShape.optional(),
  /** Experiment or production; absent = experiment. */
  track: PlanTrack.optional(),
  risks: z.array(Risk).max(10),
  steps: z.array(Step).min(1).max(12),
  brain: BrainKind,
  /** The channel's lessons this plan follows (see lessons.ts); absent = none (plans written before lessons, too). */
  lessonsApplied: z.array(AppliedLesson).max(MAX_LESSONS_PER_CHANNEL).optional(),
  /**
   * What the plan takes as given without the request or the repository saying so (e.g. "the label column is
   * `churned`", "synthetic churn-like data"); shown with the plan. Absent = none (and plans written before).
   */
  assumptions: z.array(z.string().min(1).max(500)).max(10).optional(),
  /** What must be answered before the plan can be approved (see PlanQuestion); absent = none. */
  questions: z.array(PlanQuestion).max(MAX_PLAN_QUESTIONS).optional(),
});
export type Plan = z.infer<typeof Plan>;

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

import { type Plan, validatePlan } from "@mllead/contracts";
import { initialShape, type PlanShape } from "./plan-shape.js";
import { applyFeedback } from "./revise.js";
import { analyzeStep, dataStep, reviewStep, risksFor, trainStep } from "./steps.js";
import { profileTask } from "./task-profile.js";

/** Raised when the offline planner produced a plan that breaks the ordering rules (a bug, never expected). */
export class OfflinePlanInvalidError extends Error {
  readonly code = "offline_plan_invalid";
  override readonly name = "OfflinePlanInvalidError";
}

const MAX_SUMMARY = 2000;

function describe(shape: PlanShape): string {
  const { include, profile: p } = shape;
  const parts: string[] = [];
  if (include.data) parts.push(`the data-engineer validates and splits \`${p.dataset}\``);
  if (include.train)
    parts.push(`the ml-engineer trains a ${p.model === "mlp" ? "small MLP" : "logistic regression"} for ${p.epochs} epochs`);
  if (include.analyze) parts.push(include.train ? "the analyst compares it with the baseline" : "the analyst explores the data");
  parts.push("the code-reviewer reviews every change last");
  const order =
    include.data && include.train ? " Data comes first: a simple model on clean data beats a complex one on dirty data." : "";
  const speed = p.production
    ? " This heads for production, so it leans to correctness: tests and validation on every step."
    : " It is an experiment, so it leans to speed: one well-configured run rather than a sweep.";
  return `Offline plan: ${parts.join(", then ")}.${order}${speed}`;
}

/** Turns a shape into a plan; every plan passes `validatePlan`. */
export function planFromShape(shape: PlanShape): Plan {
  const workers = [
    shape.include.data ? dataStep(shape) : undefined,
    shape.include.train ? trainStep(shape) : undefined,
    shape.include.analyze ? analyzeStep(shape) : undefined,
  ].filter((s) => s !== undefined);
  const steps = [
    ...workers,
    reviewStep(
      shape,
      workers.filter((s) => s.changesCode),
    ),
  ];
  let summary = describe(shape);
  if (shape.notes.length > 0) {
    summary += ` Revised for your feedback: ${shape.notes.map((n, i) => `(${i + 1}) ${n}`).join(" ")}`;
  }
  if (summary.length > MAX_SUMMARY) summary = `${summary.slice(0, MAX_SUMMARY - 1)}…`;
  const plan: Plan = {
    summary,
    scope: workers.length > 1 ? "multi-agent" : "single-agent",
    risks: risksFor(shape),
    steps,
    brain: "offline",
  };
  const problems = validatePlan(plan);
  if (problems.length > 0) {
    throw new OfflinePlanInvalidError(`offline plan breaks the rules: ${problems.map((p) => p.message).join("; ")}`);
  }
  return plan;
}

/**
 * The offline planner. A revision is rebuilt from the task text plus every
 * feedback item in order, so the same conversation always gives the same plan.
 */
export function offlinePlan(text: string, feedback: readonly string[] = []): Plan {
  let shape = initialShape(profileTask(text));
  for (const item of feedback) shape = applyFeedback(shape, item);
  return planFromShape(shape);
}

import { requestRequirement } from "./criteria.js";
import type { PlanShape, StepKey } from "./plan-shape.js";

/**
 * Step ids by key, per kind of task. They travel in NATS subjects: short and subject-safe. A triage names
 * its steps after what they do (investigate → rootcause → fix → verify); a sweep's training step is `sweep`.
 */
export function stepId(shape: PlanShape, key: StepKey): string {
  const kind = shape.profile.kind;
  if (kind === "triage")
    return { data: "investigate", cause: "rootcause", train: "fix", analyze: "verify", review: "review" }[key];
  if (kind === "sweep" && key === "train") return "sweep";
  return key === "cause" ? "rootcause" : key;
}

/** The task's words in a step's context, cut to `max` characters. */
export function quote(text: string, max = 600): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The plan-review requests on a step: every one as a requirement, those still to be shown as criteria. */
export function requests(shape: PlanShape, key: StepKey): { requirements: string[]; criteria: string[] } {
  const list = shape.extra[key];
  return {
    requirements: list.map((r) => requestRequirement(r.item)),
    criteria: list.filter((r) => r.criterion).map((r) => r.item),
  };
}

/** The seed's speed-versus-correctness rule, as one requirement on each worker step. */
export function trackRequirement(shape: PlanShape): string[] {
  return shape.profile.production
    ? ["Production code: correctness over speed — unit tests for every changed function, checks that fail loudly, no shortcuts."]
    : [];
}

/** The metric a triage is about, for people. */
export const watched = (shape: PlanShape) => shape.profile.metricNamed ?? "the metric";

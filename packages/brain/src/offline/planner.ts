import {
  isAnswersFeedback,
  type Lesson,
  type Plan,
  type Risk,
  type ScoutReport,
  type Step,
  validatePlan,
} from "@mllead/contracts";
import { OfflinePlanInvalidError } from "../errors.js";
import { addLessonRequirements, applySettingLessons } from "./apply-lessons.js";
import { DEMO_PLAN_NOTE } from "./demo-data.js";
import { applyAnswers, offlineAssumptions, offlineQuestions } from "./plan-context.js";
import { initialShape, type PlanShape, planTrack, taskShape, type WorkerKey, workers } from "./plan-shape.js";
import { applyFeedback, isStepFailure } from "./revise.js";
import { analyzeStep, causeStep, dataStep, reviewStep } from "./steps.js";
import { profileTask } from "./task-profile.js";
import { trainStep } from "./train-step.js";

const MAX_SUMMARY = 2000;

const BUILD: Readonly<Record<WorkerKey, (shape: PlanShape) => Step>> = {
  data: dataStep,
  cause: causeStep,
  train: trainStep,
  analyze: analyzeStep,
};

function describe(shape: PlanShape): string {
  const { include, profile: p } = shape;
  const model = p.model === "mlp" ? "small MLP" : "logistic regression";
  const metric = p.metricNamed ?? "the metric";
  const parts: string[] = [];
  if (p.kind === "triage") {
    parts.push(
      `the data-engineer investigates the data behind the drop in ${metric} (\`${p.dataset}\`)`,
      "the analyst finds the root cause",
      `the ml-engineer fixes it and retrains a ${model}`,
      `the analyst verifies that ${metric} recovered against the model from before the drop`,
    );
  } else {
    if (include.data)
      parts.push(
        `the data-engineer ${p.kind === "quality" ? "audits, cleans and validates" : "validates and splits"} \`${p.dataset}\``,
      );
    if (include.train)
      parts.push(
        p.kind === "sweep"
          ? `the ml-engineer sweeps a ${model} (${p.trials} trials, Optuna-style)`
          : `the ml-engineer trains a ${model} for ${p.epochs} epochs`,
      );
    if (include.analyze)
      parts.push(
        include.train
          ? "the analyst compares it with the baseline"
          : p.kind === "quality"
            ? "the analyst profiles the cleaned data"
            : "the analyst explores the data",
      );
  }
  parts.push("the code-reviewer reviews every change last");
  const order =
    p.kind === "triage"
      ? " A triage finds the cause before it changes anything."
      : include.data && include.train
        ? " Data comes first: a simple model on clean data beats a complex one on dirty data."
        : "";
  const speed = p.production
    ? " This heads for production, so it leans to correctness: tests and validation on every step, and a comparison with the model it replaces."
    : p.kind === "sweep"
      ? " You asked to optimise, so it is a sweep rather than one well-configured run."
      : include.train
        ? " It is an experiment, so it leans to speed: one well-configured run rather than a sweep."
        : " It is an experiment, so it leans to speed.";
  return `Offline plan (${taskShape(shape)}): ${parts.join(", then ")}.${order}${speed}`;
}

/** Risks with mitigations for the steps present. */
function risksFor(shape: PlanShape): Risk[] {
  const { include, profile: p } = shape;
  const risks: Risk[] = [
    {
      risk: "Data leakage between train, val and test inflates every metric.",
      mitigation: "Split before any fitted transform; fit imputation and normalisation on train only; the reviewer checks it.",
    },
  ];
  if (p.kind === "triage") {
    risks.push({
      risk: "Fixing a symptom: retraining can hide a data problem that caused the drop.",
      mitigation: "The root cause is named with evidence before the fix, and the fix is verified on the same validation split.",
    });
  }
  if (include.data) {
    risks.push({
      risk: `Data drift or quality problems in \`${p.dataset}\` (nulls, out-of-range values, shifted class balance).`,
      mitigation: "Validate schema, nulls, ranges and class balance first and stop with a report when a check fails.",
    });
  }
  if (include.train) {
    risks.push(
      {
        risk: "Training instability (diverging or NaN loss).",
        mitigation: `Stable log-sum-exp loss, learning rate ${p.lr}, and a NaN/inf check that fails the job with a clear error.`,
      },
      {
        risk:
          p.mentionsPrevious || p.production || p.kind === "triage"
            ? "Metric regression against the previous model."
            : "A model that does not beat a trivial baseline.",
        mitigation:
          "Report every metric next to the majority-class baseline (and the previous model when available); accept only a lift of at least 0.05 AUC.",
      },
      {
        risk: "Out-of-memory on the GPU host.",
        mitigation: `Load data once, train in mini-batches of ${p.batchSize}, and set a job timeout.`,
      },
    );
  }
  if (p.kind === "sweep" && include.train) {
    risks.push({
      risk: `Overfitting the validation split by picking the best of ${p.trials} trials.`,
      mitigation: "Select on the validation split only and report the test split once, for the winning trial.",
    });
  }
  risks.push({
    risk: "Results that cannot be reproduced.",
    mitigation: "Fix and record every seed; the reviewer checks for unseeded randomness.",
  });
  return risks.slice(0, 10);
}

/** Turns a shape into a plan; every plan passes `validatePlan`. */
function planFromShape(shape: PlanShape): Plan {
  const built = workers(shape).map((k) => BUILD[k](shape));
  const steps = [...built, reviewStep(shape, built)];
  // Before the revision notes, so a long revision history never cuts it off.
  let summary = `${describe(shape)} ${DEMO_PLAN_NOTE}`;
  if (shape.notes.length > 0) {
    summary += ` Revised for your feedback: ${shape.notes.map((n, i) => `(${i + 1}) ${n}`).join(" ")}`;
  }
  if (summary.length > MAX_SUMMARY) summary = `${summary.slice(0, MAX_SUMMARY - 1)}…`;
  const plan: Plan = {
    summary,
    scope: built.length > 1 ? "multi-agent" : "single-agent",
    shape: taskShape(shape),
    track: planTrack(shape),
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
 * The channel's `lessons` come first: settings are applied unless the task or
 * a person's feedback names them; other lessons become requirements of the
 * steps they concern; the plan lists those it applied (`lessonsApplied`). The plan says what it assumes
 * (`offlineAssumptions`) and, for a clearly ambiguous request, asks which data to use (`offlineQuestions`,
 * its choices from the scout's `context`); the answers come back as a feedback item (`applyAnswers`).
 */
export function offlinePlan(
  text: string,
  feedback: readonly string[] = [],
  lessons: readonly Lesson[] = [],
  context?: ScoutReport,
): Plan {
  const profile = profileTask(text);
  const said = [profile.text, ...feedback.filter((f) => !isStepFailure(f))];
  const settings = applySettingLessons(initialShape(profile), lessons, said);
  let shape = settings.shape;
  for (const item of feedback) shape = isAnswersFeedback(item) ? applyAnswers(shape, item) : applyFeedback(shape, item);
  const { plan, applied } = addLessonRequirements(planFromShape(shape), lessons);
  const lessonsApplied = lessons
    .filter((l) => settings.applied.has(l.id) || applied.has(l.id))
    .map((l) => ({ id: l.id, text: l.rule }));
  const questions = offlineQuestions(shape.profile, feedback, context);
  return {
    ...plan,
    ...(lessonsApplied.length > 0 ? { lessonsApplied } : {}),
    assumptions: offlineAssumptions(shape.profile),
    ...(questions.length > 0 ? { questions } : {}),
  };
}

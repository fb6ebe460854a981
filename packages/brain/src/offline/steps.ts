import type { Step, StepParams } from "@mllead/contracts";
import { offlineCriteria } from "./criteria.js";
import { EXTRA } from "./params.js";
import type { PlanShape } from "./plan-shape.js";
import { quote, requests, stepId, trackRequirement, watched } from "./step-parts.js";

/** The data-engineer's handoff: validate, split before fitting, write splits and a report (a triage: the data behind the drop). */
export function dataStep(shape: PlanShape): Step {
  const { profile: p, include } = shape;
  const kind = p.kind;
  const params: StepParams = { dataset: p.dataset, target: "churned", seed: p.seed };
  const ds = `\`${params.dataset}\``;
  const asked = requests(shape, "data");
  const next =
    kind === "triage"
      ? { to: "analyst" as const, reason: `to find the root cause of the drop in ${watched(shape)} in the validation report` }
      : include.train
        ? { to: "ml-engineer" as const, reason: `to train on the validated splits of ${ds}` }
        : include.analyze
          ? { to: "analyst" as const, reason: `to ${kind === "quality" ? "profile" : "explore"} the validated splits of ${ds}` }
          : { to: "code-reviewer" as const, reason: "to review the pipeline before the task completes" };
  const focus = {
    triage: {
      title: `Investigate the data behind the drop: validate ${params.dataset}`,
      objective: `Establish whether the data the model sees changed — schema, nulls, ranges, class balance of ${ds} — and produce validated, leak-free splits for the fix.`,
      extra: [
        "Report every check that differs from what the model was trained on: data problems are the first suspects of a drop.",
      ],
    },
    quality: {
      title: `Audit, clean and validate ${params.dataset}`,
      objective: `Overhaul the data quality of ${ds}: every problem found, fixed in the pipeline and guarded by a check, with validated, leak-free splits as the result.`,
      extra: [
        "Count each problem before and after the fix (nulls per column, out-of-range values, duplicate rows) in the validation report.",
      ],
    },
  }[kind as "triage" | "quality"] ?? {
    title: `Validate and split ${params.dataset}`,
    objective: `Produce validated, leak-free train/val/test splits of ${ds} that the rest of the team can trust.`,
    extra: [],
  };
  return {
    id: stepId(shape, "data"),
    role: "data-engineer",
    kind: kind === "triage" ? "investigate" : "data",
    title: focus.title,
    objective: focus.objective,
    context: [
      `Task: "${quote(p.text)}".`,
      p.datasetNamed
        ? `The task names ${ds}.`
        : "The task names no table, so a churn-like customer table (target `churned`) is assumed.",
      `Offline, the pipeline generates a deterministic synthetic churn-like table (seed ${params.seed}) in its place.`,
    ].join(" "),
    requirements: [
      "The pipeline is `jobs/prepare_data.py` with type hints and docstrings, plus unit tests in `jobs/test_prepare_data.py` (written from the shipped copy when the repository lacks them).",
      `Validate ${ds} before transforming it: schema (expected columns, numeric types), null counts per column, value ranges and the target's class balance.`,
      "Split train/val/test (70/15/15) before any fitted transform; fit imputation on the train split only and apply it to val and test.",
      `Fix the random seed (${params.seed}) for generation and shuffling so reruns produce identical files.`,
      "Write `data/train.csv`, `data/val.csv`, `data/test.csv` and the validation report (`data/validation_report.json` and `.md`) and save them as artifacts.",
      ...focus.extra,
      ...trackRequirement(shape),
      ...asked.requirements,
    ],
    acceptanceCriteria: offlineCriteria(
      "data-engineer",
      ["validated", "splits", "fitOnTrain", "seeded", "tests"],
      params,
      asked.criteria,
    ),
    params,
    nextHandoff: next,
    dependsOn: [],
    changesCode: true,
    usesGpu: false,
  };
}

/** A triage's root cause: the analyst explains, with statistics, what in the validated data differs. */
export function causeStep(shape: PlanShape): Step {
  const { profile: p } = shape;
  const params: StepParams = { dataset: p.dataset, metric: "positive_rate" };
  const asked = requests(shape, "cause");
  return {
    id: stepId(shape, "cause"),
    role: "analyst",
    kind: "root-cause",
    title: `Find the root cause of the drop in ${watched(shape)}`,
    objective: `Name the most likely cause of the drop in ${watched(shape)}, with statistics a reader can check, before anyone changes the model.`,
    context: `Task: "${quote(p.text)}". Inputs: the validation report and splits from the investigate step. The fix is planned on what this step finds.`,
    requirements: [
      "The analysis is `jobs/analyze.py` (numpy only, type hints, docstrings, unit tests in `jobs/test_analyze.py`; written from the shipped copy when the repository lacks them); run it on the train split.",
      "Report the class balance and, per feature, class means with Welch's t statistic and p-value: a shifted balance or feature is a candidate cause.",
      "Write `reports/report.md` with the most likely cause first, then the evidence, then what else could explain the drop; save it as an artifact.",
      ...asked.requirements,
    ],
    acceptanceCriteria: offlineCriteria("analyst", ["classBalance", "statistics"], params, asked.criteria),
    params,
    nextHandoff: { to: "ml-engineer", reason: "to fix what the root cause points at and retrain" },
    dependsOn: [stepId(shape, "data")],
    changesCode: true,
    usesGpu: false,
  };
}

/** The analyst's handoff: results against the baseline, EDA when no model is trained, a triage's verification. */
export function analyzeStep(shape: PlanShape): Step {
  const { profile: p, include } = shape;
  const eda = !include.train;
  const triage = p.kind === "triage";
  const previous = !eda && (p.mentionsPrevious || p.production || triage);
  const params: StepParams = {
    dataset: p.dataset,
    metric: eda ? "positive_rate" : "val_auc",
    ...(previous ? { extra: [{ name: EXTRA.compare, value: "previous-model" }] } : {}),
  };
  const asked = requests(shape, "analyze");
  const script =
    "The analysis is `jobs/analyze.py` (numpy only, type hints, docstrings, unit tests in `jobs/test_analyze.py`; written from the shipped copy when the repository lacks them)";
  const requirements = eda
    ? [
        `${script}; run it on the train split.`,
        "Report the class balance and, per feature, class means with Welch's t statistic and p-value.",
        "Write `reports/report.md` with the answer first, then the evidence, then caveats and next steps; save it as an artifact.",
      ]
    : [
        `${script}; run it on the training job's \`metrics.json\` and \`history.json\`.`,
        "Compare val AUC and accuracy with the majority-class baseline and state the lift.",
        previous
          ? `Compare with the ${triage ? "model from before the drop" : p.production ? "model in production" : "previous model"}; if its metrics are not available, say so plainly instead of estimating.`
          : "Note whether the model is worth iterating on, based on the lift over the baseline.",
        "Plot train and val loss per epoch to `reports/loss.png`.",
        "Write `reports/report.md` with the answer first, then the evidence, then caveats and next steps; save report and plot as artifacts.",
      ];
  const title = triage
    ? `Verify that ${watched(shape)} recovered`
    : eda
      ? p.kind === "quality"
        ? `Profile the cleaned ${p.dataset}`
        : `Explore ${p.dataset}`
      : "Report results against the baseline";
  const objective = triage
    ? `Show, with the evidence, whether the fix recovers ${watched(shape)} against the baseline and the model from before the drop.`
    : eda
      ? `Explain what drives the target in \`${p.dataset}\`, with statistics a reader can check.`
      : "Tell the requester whether the new model is better than the baseline, with the evidence.";
  return {
    id: stepId(shape, "analyze"),
    role: "analyst",
    kind: triage ? "verify" : eda ? "eda" : "report",
    title,
    objective,
    context: `Task: "${quote(p.text)}". ${
      eda ? "Inputs: the validated splits from the data step." : "Inputs: the metrics and loss history from the training step."
    } The analysis may start as soon as those exist.`,
    requirements: [...requirements, ...trackRequirement(shape), ...asked.requirements],
    acceptanceCriteria: offlineCriteria(
      "analyst",
      eda ? ["classBalance", "statistics"] : ["baseline", "lossCurve", ...(previous ? (["previous"] as const) : [])],
      params,
      asked.criteria,
    ),
    params,
    nextHandoff: { to: "code-reviewer", reason: "to review the analysis code with every other change" },
    dependsOn: [eda ? stepId(shape, "data") : stepId(shape, "train")],
    changesCode: true,
    usesGpu: false,
  };
}

/** The mandatory gate: depends on every other step, so it always runs last and the task cannot finish early. */
export function reviewStep(shape: PlanShape, others: Step[]): Step {
  const code = others.filter((s) => s.changesCode).map((s) => `${s.role} (${s.id})`);
  const asked = requests(shape, "review");
  return {
    id: stepId(shape, "review"),
    role: "code-reviewer",
    kind: "review",
    title: "Review every change before completion",
    objective: `Gate the task: review the code changed by ${code.join(", ") || "the other steps"} for ML pitfalls and return a structured verdict.`,
    context: `Task: "${quote(shape.profile.text)}". The reviewer runs after every other step and is the mandatory quality gate; request_changes sends findings back to the step that owns the code.`,
    requirements: [
      "Data leakage: splits happen before any fitted transform; statistics are fitted on train only; the test split is not used for selection.",
      "Reproducibility: every source of randomness is seeded.",
      "Numerical stability: stable sigmoid and log-sum-exp losses, no log of zero, guarded divisions.",
      "Memory: data loaded once, mini-batches, nothing loaded repeatedly inside loops.",
      "Type hints and docstrings on public functions; tests present for the changed logic.",
      ...asked.requirements,
    ],
    // The review's own criteria only (the plan rules): what people asked the review to look at is a requirement.
    acceptanceCriteria: offlineCriteria("code-reviewer", ["verdict", "checks", "findingsNamed", "audit"], {}),
    params: {},
    nextHandoff: { to: "tech-lead", reason: "to close the task, or to send findings back for a fix round" },
    dependsOn: others.map((s) => s.id),
    changesCode: false,
    usesGpu: false,
  };
}

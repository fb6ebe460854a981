import { numberedCriteria, type Risk, type Step } from "@mllead/contracts";
import type { PlanShape } from "./plan-shape.js";

// Step ids travel in NATS subjects: keep them short and subject-safe.
export const STEP_IDS = { data: "data", train: "train", analyze: "analyze", review: "review" } as const;

const MODEL_NAMES = { logreg: "logistic regression", mlp: "one-hidden-layer MLP" } as const;

function quote(text: string, max = 600): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The data-engineer's handoff: validate, split before fitting, write splits and a report. */
export function dataStep(shape: PlanShape): Step {
  const { profile: p, include } = shape;
  const ds = `\`${p.dataset}\``;
  const next = include.train
    ? { to: "ml-engineer" as const, reason: `to train on the validated splits of ${ds}` }
    : include.analyze
      ? { to: "analyst" as const, reason: `to explore the validated splits of ${ds}` }
      : { to: "code-reviewer" as const, reason: "to review the pipeline before the task completes" };
  return {
    id: STEP_IDS.data,
    role: "data-engineer",
    title: `Validate and split ${p.dataset}`,
    objective: `Produce validated, leak-free train/val/test splits of ${ds} that the rest of the team can trust.`,
    context: [
      `Task: "${quote(p.text)}".`,
      p.datasetNamed
        ? `The task names ${ds}.`
        : "The task names no table, so a churn-like customer table (target `churned`) is assumed.",
      "Offline, the pipeline generates a deterministic synthetic churn-like table (seed 42) in its place.",
    ].join(" "),
    requirements: [
      "Write the pipeline as `pipeline/prepare_data.py` with type hints and docstrings, plus unit tests in `pipeline/test_prepare_data.py`.",
      `Validate ${ds} before transforming it: schema (expected columns, numeric types), null counts per column, value ranges and the target's class balance.`,
      "Split train/val/test (70/15/15) before any fitted transform; fit imputation on the train split only and apply it to val and test.",
      "Fix the random seed (42) for generation and shuffling so reruns produce identical files.",
      "Write `data/train.csv`, `data/val.csv`, `data/test.csv` and the validation report (`data/validation_report.json` and `.md`) and save them as artifacts.",
      ...shape.extra.data,
    ],
    acceptanceCriteria: numberedCriteria(
      `The validation report shows the schema, null, range and class-balance checks passing for ${ds}.`,
      "Train/val/test splits are disjoint and their row counts add up to the validated table.",
      "Train/val/test split before any fitted transform: imputation statistics come from the train split only.",
      "Seeds fixed: rerunning the pipeline reproduces identical split files.",
      "The pipeline's unit tests pass.",
    ),
    params: { dataset: p.dataset, target: "churned", seed: 42 },
    nextHandoff: next,
    dependsOn: [],
    changesCode: true,
    usesGpu: false,
  };
}

/** The ml-engineer's handoff: a seeded, stable training job with a baseline beside the metrics. */
export function trainStep(shape: PlanShape): Step {
  const { profile: p, include } = shape;
  const name = MODEL_NAMES[p.model];
  return {
    id: STEP_IDS.train,
    role: "ml-engineer",
    title: `Train a ${name} on ${p.dataset} (${p.epochs} epochs)`,
    objective: `Train and evaluate a ${name} that predicts the target of \`${p.dataset}\`, with metrics a reader can compare to a baseline.`,
    context: [
      `Task: "${quote(p.text)}".`,
      include.data
        ? "Inputs: the train/val/test splits from the data step (`data/*.csv`)."
        : "No data step runs (a pure model change): the job rebuilds the synthetic splits with the data pipeline's generator, seed 42.",
      "The job runs on a GPU host through the queue; offline it is a numpy model that finishes in seconds.",
    ].join(" "),
    requirements: [
      `Write \`training/train.py\` (numpy ${name}) with type hints, docstrings and unit tests in \`training/test_train.py\`; submit it as a GPU job.`,
      `Train for ${p.epochs} epochs with learning rate ${p.lr}, mini-batches of 256, and the seed fixed (42) for initialisation and shuffling.`,
      "Fit feature normalisation on the train split only; never use the test split for model selection.",
      "Compute the loss from logits with a numerically stable formulation (log-sum-exp) and fail the job if it becomes NaN or infinite.",
      "Stream progress (epoch, loss, val AUC) and save `metrics.json`, `history.json` and the checkpoint `model.npz` as artifacts.",
      ...shape.extra.train,
    ],
    acceptanceCriteria: numberedCriteria(
      `The job completes ${p.epochs} epochs without errors and the final train loss is below the first epoch's.`,
      "Val AUC reported with a majority-class baseline (baseline accuracy and AUC 0.5) beside it.",
      "Val AUC beats the baseline's 0.5 by at least 0.05.",
      "Seeds fixed and recorded in `metrics.json`.",
      "`metrics.json`, `history.json` and `model.npz` are saved as artifacts.",
    ),
    params: {
      dataset: p.dataset,
      target: "churned",
      model: p.model,
      epochs: p.epochs,
      learningRate: p.lr,
      batchSize: 256,
      seed: 42,
      metric: "val_auc",
      gpus: 1,
    },
    nextHandoff: include.analyze
      ? { to: "analyst", reason: "to compare the metrics with the baseline and write the report" }
      : { to: "code-reviewer", reason: "to review the training code before the task completes" },
    dependsOn: include.data ? [STEP_IDS.data] : [],
    changesCode: true,
    usesGpu: true,
  };
}

/** The analyst's handoff: results against the baseline, or EDA when no model is trained. */
export function analyzeStep(shape: PlanShape): Step {
  const { profile: p, include } = shape;
  const eda = !include.train;
  const requirements = eda
    ? [
        "Write `analysis/analyze.py` (numpy only, type hints, docstrings) and run it on the train split.",
        "Report the class balance and, per feature, class means with Welch's t statistic and p-value.",
        "Write `reports/report.md` with the answer first, then the evidence, then caveats and next steps; save it as an artifact.",
      ]
    : [
        "Write `analysis/analyze.py` (numpy only, type hints, docstrings) and run it on the training job's `metrics.json` and `history.json`.",
        "Compare val AUC and accuracy with the majority-class baseline and state the lift.",
        p.mentionsPrevious
          ? "Compare with the previous model; if its metrics are not available, say so plainly instead of estimating."
          : "Note whether the model is worth iterating on, based on the lift over the baseline.",
        "Plot train and val loss per epoch to `reports/loss.png`.",
        "Write `reports/report.md` with the answer first, then the evidence, then caveats and next steps; save report and plot as artifacts.",
      ];
  const acceptanceCriteria = eda
    ? [
        "`reports/report.md` states the class balance of the target.",
        "Every claimed feature difference carries a test statistic and p-value.",
      ]
    : [
        "`reports/report.md` states val AUC and accuracy next to the majority-class baseline, with the lift.",
        "The loss curve is plotted to `reports/loss.png`.",
        ...(p.mentionsPrevious
          ? ["The report says whether the model beats the previous model, or states that no previous metrics are available."]
          : []),
      ];
  return {
    id: STEP_IDS.analyze,
    role: "analyst",
    title: eda ? `Explore ${p.dataset}` : "Report results against the baseline",
    objective: eda
      ? `Explain what drives the target in \`${p.dataset}\`, with statistics a reader can check.`
      : "Tell the requester whether the new model is better than the baseline, with the evidence.",
    context: `Task: "${quote(p.text)}". ${
      eda ? "Inputs: the validated splits from the data step." : "Inputs: the metrics and loss history from the training step."
    } The analysis may start as soon as those exist.`,
    requirements: [...requirements, ...shape.extra.analyze],
    acceptanceCriteria: numberedCriteria(...acceptanceCriteria),
    params: { dataset: p.dataset, metric: eda ? "positive_rate" : "val_auc" },
    nextHandoff: { to: "code-reviewer", reason: "to review the analysis code with every other change" },
    dependsOn: [eda ? STEP_IDS.data : STEP_IDS.train],
    changesCode: true,
    usesGpu: false,
  };
}

/** The mandatory gate: depends on every step that changed code, so it always runs last. */
export function reviewStep(shape: PlanShape, codeSteps: Step[]): Step {
  const files = codeSteps.map((s) => `${s.role} (${s.id})`).join(", ");
  return {
    id: STEP_IDS.review,
    role: "code-reviewer",
    title: "Review every change before completion",
    objective: `Gate the task: review the code changed by ${files} for ML pitfalls and return a structured verdict.`,
    context: `Task: "${quote(shape.profile.text)}". The reviewer runs last and is the mandatory quality gate; request_changes sends findings back to the step that owns the code.`,
    requirements: [
      "Data leakage: splits happen before any fitted transform; statistics are fitted on train only; the test split is not used for selection.",
      "Reproducibility: every source of randomness is seeded.",
      "Numerical stability: stable sigmoid and log-sum-exp losses, no log of zero, guarded divisions.",
      "Memory: data loaded once, mini-batches, nothing loaded repeatedly inside loops.",
      "Type hints and docstrings on public functions; tests present for the changed logic.",
      ...shape.extra.review,
    ],
    acceptanceCriteria: numberedCriteria(
      "A structured verdict (approve or request_changes) with one check per pitfall category.",
      "Every finding names its file, severity, category and the step that owns the code.",
      "request_changes only when a blocker or major finding exists.",
    ),
    params: {},
    nextHandoff: { to: "tech-lead", reason: "to close the task, or to send findings back for a fix round" },
    dependsOn: codeSteps.map((s) => s.id),
    changesCode: false,
    usesGpu: false,
  };
}

/** Risks with mitigations for the steps present. */
export function risksFor(shape: PlanShape): Risk[] {
  const { include, profile: p } = shape;
  const risks: Risk[] = [
    {
      risk: "Data leakage between train, val and test inflates every metric.",
      mitigation: "Split before any fitted transform; fit imputation and normalisation on train only; the reviewer checks it.",
    },
  ];
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
        risk: p.mentionsPrevious
          ? "Metric regression against the previous model."
          : "A model that does not beat a trivial baseline.",
        mitigation:
          "Report every metric next to the majority-class baseline (and the previous model when available); accept only a lift of at least 0.05 AUC.",
      },
      {
        risk: "Out-of-memory on the GPU host.",
        mitigation: "Load data once, train in mini-batches of 256, and set a job timeout.",
      },
    );
  }
  risks.push({
    risk: "Results that cannot be reproduced.",
    mitigation: "Fix and record every seed; the reviewer checks for unseeded randomness.",
  });
  return risks;
}

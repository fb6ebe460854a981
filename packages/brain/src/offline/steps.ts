import type { Risk, Step, StepParams } from "@mllead/contracts";
import { offlineCriteria, requestRequirement } from "./criteria.js";
import { EXTRA, modelName } from "./params.js";
import type { PlanShape, StepKey } from "./plan-shape.js";

// Step ids travel in NATS subjects: keep them short and subject-safe.
export const STEP_IDS = { data: "data", train: "train", analyze: "analyze", review: "review" } as const;

function quote(text: string, max = 600): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The plan-review requests on a step: every one as a requirement, those still to be shown as criteria. */
function requests(shape: PlanShape, key: StepKey): { requirements: string[]; criteria: string[] } {
  const list = shape.extra[key];
  return {
    requirements: list.map((r) => requestRequirement(r.item)),
    criteria: list.filter((r) => r.criterion).map((r) => r.item),
  };
}

/** The data-engineer's handoff: validate, split before fitting, write splits and a report. */
export function dataStep(shape: PlanShape): Step {
  const { profile: p, include } = shape;
  const params: StepParams = { dataset: p.dataset, target: "churned", seed: p.seed };
  const ds = `\`${params.dataset}\``;
  const asked = requests(shape, "data");
  const next = include.train
    ? { to: "ml-engineer" as const, reason: `to train on the validated splits of ${ds}` }
    : include.analyze
      ? { to: "analyst" as const, reason: `to explore the validated splits of ${ds}` }
      : { to: "code-reviewer" as const, reason: "to review the pipeline before the task completes" };
  return {
    id: STEP_IDS.data,
    role: "data-engineer",
    title: `Validate and split ${params.dataset}`,
    objective: `Produce validated, leak-free train/val/test splits of ${ds} that the rest of the team can trust.`,
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

/** The ml-engineer's handoff: a seeded, stable training job with a baseline beside the metrics. */
export function trainStep(shape: PlanShape): Step {
  const { profile: p, include } = shape;
  const params = {
    dataset: p.dataset,
    target: "churned",
    model: p.model,
    epochs: p.epochs,
    learningRate: p.lr,
    batchSize: p.batchSize,
    seed: p.seed,
    metric: "val_auc",
    gpus: 1,
  } satisfies StepParams;
  const name = modelName(params.model);
  const asked = requests(shape, "train");
  return {
    id: STEP_IDS.train,
    role: "ml-engineer",
    title: `Train a ${name} on ${params.dataset} (${params.epochs} epochs)`,
    objective: `Train and evaluate a ${name} that predicts the target of \`${params.dataset}\`, with metrics a reader can compare to a baseline.`,
    context: [
      `Task: "${quote(p.text)}".`,
      include.data
        ? "Inputs: the train/val/test splits from the data step (`data/*.csv`)."
        : `No data step runs (a pure model change): the job rebuilds the synthetic splits with the data pipeline's generator, seed ${params.seed}.`,
      "The job runs on a GPU host through the queue; offline it is a numpy model that finishes in seconds.",
    ].join(" "),
    requirements: [
      `The training script is \`jobs/train.py\` (numpy ${name}) with type hints, docstrings and unit tests in \`jobs/test_train.py\`; run the tests, then submit it as a GPU job (${params.gpus} GPU).`,
      `Train for ${params.epochs} epochs with learning rate ${params.learningRate}, mini-batches of ${params.batchSize}, and the seed fixed (${params.seed}) for initialisation and shuffling.`,
      "Fit feature normalisation on the train split only; never use the test split for model selection.",
      "Compute the loss from logits with a numerically stable formulation (log-sum-exp) and fail the job if it becomes NaN or infinite.",
      "Stream progress (epoch, loss, val AUC) and save `metrics.json`, `history.json`, `model_card.json` and the checkpoint `model.npz` as artifacts.",
      ...asked.requirements,
    ],
    acceptanceCriteria: offlineCriteria(
      "ml-engineer",
      ["epochs", "settings", "baseline", "beatsBaseline", "seeded", "artifacts"],
      params,
      asked.criteria,
    ),
    params,
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
  const previous = !eda && p.mentionsPrevious;
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
          ? "Compare with the previous model; if its metrics are not available, say so plainly instead of estimating."
          : "Note whether the model is worth iterating on, based on the lift over the baseline.",
        "Plot train and val loss per epoch to `reports/loss.png`.",
        "Write `reports/report.md` with the answer first, then the evidence, then caveats and next steps; save report and plot as artifacts.",
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
    requirements: [...requirements, ...asked.requirements],
    acceptanceCriteria: offlineCriteria(
      "analyst",
      eda ? ["classBalance", "statistics"] : ["baseline", "lossCurve", ...(previous ? (["previous"] as const) : [])],
      params,
      asked.criteria,
    ),
    params,
    nextHandoff: { to: "code-reviewer", reason: "to review the analysis code with every other change" },
    dependsOn: [eda ? STEP_IDS.data : STEP_IDS.train],
    changesCode: true,
    usesGpu: false,
  };
}

/** The mandatory gate: depends on every step that changed code, so it always runs last. */
export function reviewStep(shape: PlanShape, codeSteps: Step[]): Step {
  const files = codeSteps.map((s) => `${s.role} (${s.id})`).join(", ");
  const asked = requests(shape, "review");
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
      ...asked.requirements,
    ],
    acceptanceCriteria: offlineCriteria("code-reviewer", ["verdict", "findingsNamed", "decision"], {}, asked.criteria),
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
        mitigation: `Load data once, train in mini-batches of ${p.batchSize}, and set a job timeout.`,
      },
    );
  }
  risks.push({
    risk: "Results that cannot be reproduced.",
    mitigation: "Fix and record every seed; the reviewer checks for unseeded randomness.",
  });
  return risks;
}

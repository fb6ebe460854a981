import type { Step, StepParams } from "@mllead/contracts";
import { offlineCriteria } from "./criteria.js";
import { modelName } from "./params.js";
import type { PlanShape } from "./plan-shape.js";
import { quote, requests, stepId, trackRequirement, watched } from "./step-parts.js";

/** The training step's params: the profile's settings, and a sweep's trials and search space. */
function trainParams(shape: PlanShape) {
  const p = shape.profile;
  return {
    dataset: p.dataset,
    target: "churned",
    model: p.model,
    epochs: p.epochs,
    learningRate: p.lr,
    batchSize: p.batchSize,
    seed: p.seed,
    metric: "val_auc",
    gpus: 1,
    ...(p.kind === "sweep"
      ? {
          trials: p.trials,
          extra: [
            { name: "sampler", value: "tpe" },
            { name: "search_space", value: "learningRate: log-uniform 0.0001..1; batchSize: 64, 128, 256, 512" },
          ],
        }
      : {}),
  } satisfies StepParams;
}

type TrainParams = ReturnType<typeof trainParams>;

/** What the step says it does: title, objective and how it runs, by kind (a sweep, a triage's fix, a training). */
function trainWording(shape: PlanShape, params: TrainParams): { title: string; objective: string; run: string } {
  const kind = shape.profile.kind;
  const name = modelName(params.model);
  if (kind === "sweep") {
    return {
      title: `Sweep a ${name} on ${params.dataset} (${params.trials} trials)`,
      objective: `Find the best settings of a ${name} on \`${params.dataset}\` with a sweep, and save the best trial with its metrics beside a baseline.`,
      run: `Run an Optuna-style sweep (TPE sampler, ${params.trials} trials, seed ${params.seed}) over the learning rate (log-uniform 0.0001–1) and the batch size, each trial ${params.epochs} epochs; select the best trial by val AUC on the validation split and report the test split once, for the winner only.`,
    };
  }
  const run = `Train for ${params.epochs} epochs with learning rate ${params.learningRate}, mini-batches of ${params.batchSize}, and the seed fixed (${params.seed}) for initialisation and shuffling.`;
  if (kind === "triage") {
    return {
      title: `Fix: retrain a ${name} on the validated ${params.dataset} (${params.epochs} epochs)`,
      objective: `Fix what the root cause points at and retrain a ${name} on the validated data, so that ${watched(shape)} recovers.`,
      run,
    };
  }
  return {
    title: `Train a ${name} on ${params.dataset} (${params.epochs} epochs)`,
    objective: `Train and evaluate a ${name} that predicts the target of \`${params.dataset}\`, with metrics a reader can compare to a baseline.`,
    run,
  };
}

/** The training step's context: the task, where its data comes from, and where the job runs. */
function trainContext(shape: PlanShape, params: TrainParams): string {
  return [
    `Task: "${quote(shape.profile.text)}".`,
    shape.include.data
      ? "Inputs: the train/val/test splits from the data step (`data/*.csv`)."
      : `No data step runs (a pure model change): the job rebuilds the synthetic splits with the data pipeline's generator, seed ${params.seed}.`,
    shape.profile.kind === "triage" ? "Read the root-cause report first: the fix answers what it found." : "",
    "The job runs on a GPU host through the queue; offline it is a numpy model that finishes in seconds.",
  ]
    .filter(Boolean)
    .join(" ");
}

/** The ml-engineer's handoff: a seeded, stable training job with a baseline beside the metrics (a sweep's search, a triage's fix). */
export function trainStep(shape: PlanShape): Step {
  const { profile: p, include } = shape;
  const kind = p.kind;
  const sweep = kind === "sweep";
  const params = trainParams(shape);
  const asked = requests(shape, "train");
  const { title, objective, run } = trainWording(shape, params);
  return {
    id: stepId(shape, "train"),
    role: "ml-engineer",
    kind: sweep ? "sweep" : kind === "triage" ? "fix" : "train",
    title,
    objective,
    context: trainContext(shape, params),
    requirements: [
      `The training script is \`jobs/train.py\` (numpy ${modelName(params.model)}) with type hints, docstrings and unit tests in \`jobs/test_train.py\`; run the tests, then submit it as a GPU job (${params.gpus} GPU).`,
      run,
      "Fit feature normalisation on the train split only; never use the test split for model selection.",
      "Compute the loss from logits with a numerically stable formulation (log-sum-exp) and fail the job if it becomes NaN or infinite.",
      "Stream progress (epoch, loss, val AUC) and save `metrics.json`, `history.json`, `model_card.json` and the checkpoint `model.npz` as artifacts.",
      ...(kind === "triage" ? [`Report ${watched(shape)} before and after the fix on the same validation split.`] : []),
      ...trackRequirement(shape),
      ...asked.requirements,
    ],
    acceptanceCriteria: offlineCriteria(
      "ml-engineer",
      // A sweep varies the learning rate, so the single-setting check does not apply to it.
      sweep
        ? ["epochs", "baseline", "beatsBaseline", "seeded", "artifacts"]
        : ["epochs", "settings", "baseline", "beatsBaseline", "seeded", "artifacts"],
      params,
      asked.criteria,
    ),
    params,
    nextHandoff: include.analyze
      ? {
          to: "analyst",
          reason:
            kind === "triage"
              ? "to verify the fix against the model before the drop"
              : "to compare the metrics with the baseline and write the report",
        }
      : { to: "code-reviewer", reason: "to review the training code before the task completes" },
    dependsOn: kind === "triage" ? [stepId(shape, "cause")] : include.data ? [stepId(shape, "data")] : [],
    changesCode: true,
    usesGpu: true,
  };
}

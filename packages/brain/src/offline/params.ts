import type { StepParams } from "@mllead/contracts";

/** The model families the shipped `train.py` trains. */
export const OFFLINE_MODELS = ["logreg", "mlp"] as const;
export type OfflineModel = (typeof OFFLINE_MODELS)[number];

/** What each model family is called in text for people. */
export const MODEL_NAMES: Readonly<Record<OfflineModel, string>> = {
  logreg: "logistic regression",
  mlp: "one-hidden-layer MLP",
};

/** `params.extra` names the offline brain reads. */
export const EXTRA = {
  /** `previous-model`: the analyst compares with the previous model (and says so when its metrics are missing). */
  compare: "compare",
  /** Rows of the synthetic stand-in table the offline pipeline generates (default 6000). */
  rows: "rows",
} as const;

/**
 * A step's parameters with the offline brain's defaults filled in: dataset
 * `customers`, target `churned`, model `logreg`, 10 epochs, learning rate 0.1,
 * batch size 256, seed 42, 1 GPU, metric `val_auc`, 6000 synthetic rows.
 */
export interface ResolvedParams {
  dataset: string;
  target: string;
  /** As the plan gives it; `isOfflineModel` says whether the shipped script trains it. */
  model: string;
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  gpus: number;
  metric: string;
  rows: number;
}

export const OFFLINE_DEFAULTS: ResolvedParams = {
  dataset: "customers",
  target: "churned",
  model: "logreg",
  epochs: 10,
  learningRate: 0.1,
  batchSize: 256,
  seed: 42,
  gpus: 1,
  metric: "val_auc",
  rows: 6000,
};

/** The value of `params.extra[name]`, if set. */
export function extraParam(params: StepParams, name: string): string | undefined {
  return params.extra?.find((e) => e.name === name)?.value;
}

/** `params` with the documented defaults for every field it leaves out. */
export function resolveParams(params: StepParams): ResolvedParams {
  const rows = Number(extraParam(params, EXTRA.rows));
  return {
    dataset: params.dataset ?? OFFLINE_DEFAULTS.dataset,
    target: params.target ?? OFFLINE_DEFAULTS.target,
    model: params.model ?? OFFLINE_DEFAULTS.model,
    epochs: params.epochs ?? OFFLINE_DEFAULTS.epochs,
    learningRate: params.learningRate ?? OFFLINE_DEFAULTS.learningRate,
    batchSize: params.batchSize ?? OFFLINE_DEFAULTS.batchSize,
    seed: params.seed ?? OFFLINE_DEFAULTS.seed,
    gpus: params.gpus ?? OFFLINE_DEFAULTS.gpus,
    metric: params.metric ?? OFFLINE_DEFAULTS.metric,
    rows: Number.isInteger(rows) && rows >= 100 && rows <= 1_000_000 ? rows : OFFLINE_DEFAULTS.rows,
  };
}

export function isOfflineModel(model: string): model is OfflineModel {
  return (OFFLINE_MODELS as readonly string[]).includes(model);
}

/** The model's name for people: `logistic regression`, `one-hidden-layer MLP`, or the name as given. */
export function modelName(model: string): string {
  return isOfflineModel(model) ? MODEL_NAMES[model] : model;
}

import { OFFLINE_DEFAULTS, type OfflineModel } from "./params.js";

/**
 * What the offline planner reads out of a person's task text. Deterministic:
 * plain regexes, no randomness. Only the planner reads people's words; the
 * specialists read the settings from each step's structured params.
 */
export interface TaskProfile {
  /** The text with Slack mentions removed. */
  text: string;
  /** The table or dataset the text names, or `customers` (the synthetic stand-in) when none is named. */
  dataset: string;
  datasetNamed: boolean;
  /**
   * Which shape of plan fits: a full experiment cycle, EDA only, a pure model change, pure data work, a
   * data-quality overhaul, a regression triage, or an optimisation sweep.
   */
  kind: "full" | "eda" | "model" | "data" | "quality" | "triage" | "sweep";
  wantsAnalysis: boolean;
  epochs: number;
  lr: number;
  model: OfflineModel;
  batchSize: number;
  seed: number;
  /** The text mentions a previous/production model or a regression to compare against. */
  mentionsPrevious: boolean;
  /** Production code rather than an experiment: the decision framework then biases to correctness. */
  production: boolean;
  /** Trials of a sweep: the number the text names, else 20 (used when `kind` is `sweep`). */
  trials: number;
  /** The metric the text is about (`precision`, `recall`, `auc`…), e.g. the one that dropped in a triage. */
  metricNamed: string | undefined;
}

const DEFAULT_EPOCHS = OFFLINE_DEFAULTS.epochs;
/** The most epochs the offline planner asks for (the demo's job should finish in seconds). */
const MAX_EPOCHS = 200;
const DEFAULT_LR = OFFLINE_DEFAULTS.learningRate;
/** Trials of a sweep when the text names none, and the most the offline planner asks for. */
const DEFAULT_TRIALS = 20;
const MAX_TRIALS = 500;

/** Settings a person may name in a task or in plan review, as the planner reads them. */
export const SETTING_PATTERNS = {
  epochs: /\b(\d{1,6})\s*epochs?\b/i,
  lr: /\b(?:learning rate|lr)\s*(?:of|=|:|to|at)?\s*(\d*\.?\d+(?:e-?\d+)?)/i,
  batchSize: /\bbatch(?:[- ]size)?\s*(?:of|=|:|to)?\s*(\d{1,7})\b/i,
  seed: /\bseed\s*(?:of|=|:|to)?\s*(\d{1,9})\b/i,
  mlp: /\b(mlp|neural net\w*|hidden layers?|multi-?layer)\b/i,
  logreg: /\blogistic regression\b/i,
} as const;

/** A learning rate the text names, when it is usable (0 < lr ≤ 10). */
export function readLearningRate(text: string): number | undefined {
  const n = Number(SETTING_PATTERNS.lr.exec(text)?.[1]);
  return n > 0 && n <= 10 ? n : undefined;
}

/** A batch size the text names, when it is usable (1 … 1,000,000). */
export function readBatchSize(text: string): number | undefined {
  const n = Number(SETTING_PATTERNS.batchSize.exec(text)?.[1]);
  return Number.isInteger(n) && n >= 1 && n <= 1_000_000 ? n : undefined;
}

/** A seed the text names. */
export function readSeed(text: string): number | undefined {
  const n = Number(SETTING_PATTERNS.seed.exec(text)?.[1]);
  return Number.isInteger(n) && n >= 0 && n < 2 ** 31 ? n : undefined;
}

const STOPWORDS = new Set([
  "the",
  "a",
  "an",
  "this",
  "that",
  "our",
  "my",
  "your",
  "new",
  "same",
  "raw",
  "whole",
  "full",
  "data",
  "its",
  "their",
  "of",
  "on",
  "in",
  "from",
  "for",
  "and",
  "to",
  "with",
  "each",
  "every",
  "which",
  "is",
]);

const MODEL_WORDS =
  /\b(train\w*|retrain\w*|models?|classifier|fit|tun(e|ing)|hyperparam\w*|architecture|epochs?|learning rate|mlp|logistic|neural|predict\w*)\b/i;
const MODEL_CORE = /\b(train\w*|retrain\w*|fit|tun(e|ing)|epochs?|classifier|architecture|hyperparam\w*|predict\w*)\b/i;
const MODEL_CHANGE =
  /\b(architecture|hyperparam\w*|learning rate|layers?|hidden|mlp|loss function|optimi[sz]er|regulari[sz]ation|epochs?)\b/i;
const DATA_CHANGE =
  /\b(etl|ingest\w*|clean\w*|validat\w*|schema|pipelines?|refresh\w*|preprocess\w*|feature engineering|new data|dedup\w*|parquet|dvc)\b/i;
const ANALYSIS_WORDS =
  /\b(analy[sz]\w*|eda|explor\w*|reports?|compar\w*|plots?|visuali[sz]\w*|statistic\w*|a\/b|significan\w*|insights?|summar\w*|why)\b/i;
const EDA_WORDS = /\b(eda|explor\w*|distribution\w*|profil\w*)\b/i;
const FULL_CYCLE = /\b(experiment cycle|end[- ]to[- ]end|full (cycle|pipeline|run)|from data to)\b/i;
/** A triage: a question about why something got worse (an investigative word and a word of decline). */
const INVESTIGATE = /\b(investigat\w*|triag\w*|debug\w*|diagnos\w*|root[- ]?caus\w*|why)\b/i;
const DECLINE =
  /\b(drop\w*|regress\w*|degrad\w*|declin\w*|fell|fall\w*|worse\w*|went down|dipp?\w*|deteriorat\w*|tank\w*|spik\w*)\b/i;
/** An optimisation sweep rather than one run (the seed: "for optimization, set up an Optuna sweep"). */
const SWEEP =
  /\b(sweep\w*|optuna|hyper-?param\w*\s+(search|sweep|tuning|optimi[sz]\w*)|tun(e|ing)\s+(the\s+)?(hyper-?param\w*|learning rate|lr)|grid search|random search|bayesian optimi[sz]\w*|\d+\s+trials?)\b/i;
const TRIALS = /\b(\d{1,6})\s*trials?\b/i;
/** A data-quality overhaul: cleaning data, not training on it. */
const DATA_QUALITY = /\b(data[- ]quality|quality|clean\w*|overhaul\w*|dedup\w*|de-?duplicat\w*)\b/i;
const METRIC = /\b(precision|recall|accuracy|auc|f1|log ?loss|rmse|mae|calibration|conversion)\b/i;
const PRODUCTION = /\b(production|prod|deploy\w*|ship\w*|go live)\b/i;
/** What a triage is about: a model's performance, not any decline (a price drop is not a regression). */
const PERFORMANCE = /\b(models?|performance|metrics?|scores?|predictions?)\b/i;
const PREVIOUS =
  /\b(previous|current|production|prod|last|old|existing)\s+(model|version|run)\b|\bregress\w*|\bvs\.? (the )?(old|previous|current)\b/i;

/** The dataset the text names: a backticked name, a file, `table X`/`X table`, or none. */
export function findDataset(text: string): string | undefined {
  const tick = /`([A-Za-z_][\w./-]*)`/.exec(text);
  if (tick?.[1]) return tick[1];
  const file = /\b([\w./-]+\.(?:csv|parquet|jsonl?|tsv|feather))\b/i.exec(text);
  if (file?.[1]) return file[1];
  const usable = (w: string | undefined): w is string => !!w && !STOPWORDS.has(w.toLowerCase()) && /^[A-Za-z_]/.test(w);
  const after = /\b(?:table|dataset|data set)\s+["']?([A-Za-z_][\w.-]*[\w])/i.exec(text);
  if (usable(after?.[1])) return after[1];
  const before = /\b([A-Za-z_][\w.-]*)\s+(?:table|dataset)\b/i.exec(text);
  if (usable(before?.[1])) return before[1];
  return undefined;
}

/** Reads the task text into a profile. Same text, same profile. */
export function profileTask(rawText: string): TaskProfile {
  const text = rawText
    .replace(/<[@#!][^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  const named = findDataset(text);
  const wantsAnalysis = ANALYSIS_WORDS.test(text);
  const modelish = MODEL_WORDS.test(text);
  const dataChange = DATA_CHANGE.test(text);
  let kind: TaskProfile["kind"] = "full";
  if (INVESTIGATE.test(text) && DECLINE.test(text) && (METRIC.test(text) || PERFORMANCE.test(text))) kind = "triage";
  else if (FULL_CYCLE.test(text)) kind = "full";
  else if (SWEEP.test(text)) kind = "sweep";
  else if (EDA_WORDS.test(text) && !MODEL_CORE.test(text)) kind = "eda";
  else if (DATA_QUALITY.test(text) && !MODEL_CORE.test(text)) kind = "quality";
  else if (MODEL_CHANGE.test(text) && !dataChange && named === undefined) kind = "model";
  else if (dataChange && !modelish && !wantsAnalysis) kind = "data";
  else if (!modelish && wantsAnalysis) kind = "eda";
  const epochs = SETTING_PATTERNS.epochs.exec(text);
  return {
    text,
    dataset: named ?? "customers",
    datasetNamed: named !== undefined,
    kind,
    wantsAnalysis,
    epochs: clampEpochs(epochs?.[1] ? Number(epochs[1]) : DEFAULT_EPOCHS),
    lr: readLearningRate(text) ?? DEFAULT_LR,
    model: SETTING_PATTERNS.mlp.test(text) ? "mlp" : "logreg",
    batchSize: readBatchSize(text) ?? OFFLINE_DEFAULTS.batchSize,
    seed: readSeed(text) ?? OFFLINE_DEFAULTS.seed,
    mentionsPrevious: PREVIOUS.test(text),
    production: PRODUCTION.test(text),
    trials: clampTrials(Number(TRIALS.exec(text)?.[1] ?? DEFAULT_TRIALS)),
    metricNamed: METRIC.exec(text)?.[1]?.toLowerCase(),
  };
}

/** Keeps a sweep's trials between 2 and MAX_TRIALS. */
function clampTrials(n: number): number {
  return Math.min(Math.max(Math.trunc(n) || DEFAULT_TRIALS, 2), MAX_TRIALS);
}

/** Keeps a requested epoch count within what a job may run offline. */
export function clampEpochs(n: number): number {
  return Math.min(Math.max(Math.trunc(n), 1), MAX_EPOCHS);
}

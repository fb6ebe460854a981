/** What the offline planner reads out of a task's text. Deterministic: plain regexes, no randomness. */
export interface TaskProfile {
  /** The text with Slack mentions removed. */
  text: string;
  /** The table or dataset the text names, or `customers` (the synthetic stand-in) when none is named. */
  dataset: string;
  datasetNamed: boolean;
  /** Which shape of plan fits: a full cycle, EDA only, a pure model change, or pure data work. */
  kind: "full" | "eda" | "model" | "data";
  wantsAnalysis: boolean;
  epochs: number;
  lr: number;
  model: "logreg" | "mlp";
  /** The text mentions a previous/production model or a regression to compare against. */
  mentionsPrevious: boolean;
  /** Production code rather than an experiment: the decision framework then biases to correctness. */
  production: boolean;
}

export const DEFAULT_EPOCHS = 10;
export const MAX_EPOCHS = 200;
export const DEFAULT_LR = 0.1;

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
  if (FULL_CYCLE.test(text)) kind = "full";
  else if (EDA_WORDS.test(text) && !MODEL_CORE.test(text)) kind = "eda";
  else if (MODEL_CHANGE.test(text) && !dataChange && named === undefined) kind = "model";
  else if (dataChange && !modelish && !wantsAnalysis) kind = "data";
  else if (!modelish && wantsAnalysis) kind = "eda";
  const epochs = /\b(\d{1,4})\s*epochs?\b/i.exec(text);
  const lr = /\b(?:learning rate|lr)\s*(?:of|=|:|to|at)?\s*(\d*\.?\d+(?:e-?\d+)?)/i.exec(text);
  return {
    text,
    dataset: named ?? "customers",
    datasetNamed: named !== undefined,
    kind,
    wantsAnalysis,
    epochs: clampEpochs(epochs?.[1] ? Number(epochs[1]) : DEFAULT_EPOCHS),
    lr: lr?.[1] && Number(lr[1]) > 0 && Number(lr[1]) <= 10 ? Number(lr[1]) : DEFAULT_LR,
    model: /\b(mlp|neural net\w*|hidden layers?|multi-?layer)\b/i.test(text) ? "mlp" : "logreg",
    mentionsPrevious: PREVIOUS.test(text),
    production: /\b(production|prod|deploy\w*|ship)\b/i.test(text),
  };
}

/** Keeps a requested epoch count within what a job may run offline. */
export function clampEpochs(n: number): number {
  return Math.min(Math.max(Math.trunc(n), 1), MAX_EPOCHS);
}

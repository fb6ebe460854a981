import { type Finding, LESSON_RULE_MAX, type LearnedLesson, type LessonSetting, type Role } from "@mllead/contracts";
import { MODEL_NAMES } from "./offline/params.js";
import { findDataset, readBatchSize, readLearningRate, readSeed, SETTING_PATTERNS } from "./offline/task-profile.js";

/**
 * A lesson before it is stored: the rule, the setting it carries (when it is one) and the roles it
 * concerns. The tech lead adds the id, channel, source, who and when.
 */
export interface LessonDraft {
  rule: string;
  setting?: LessonSetting;
  roles: Role[];
}

/** A request that says it is for this task only ("use 30 epochs for this one") teaches the channel nothing. */
const THIS_TASK_ONLY =
  /\b(for|in) (this|the current) (one|task|run|time|request|experiment)\b|\b(this time|just this once|only (here|this once))\b/i;

/** A request that only drops a step ("skip the analysis") is about that plan, not a rule for the next. */
const DROP_ONLY = /^(skip|drop|remove|omit|no need for|without|don'?t (do|run|need))\b/i;
const NEGATED = /\b(no|not|don'?t|never|without|instead of)\b/i;
const LEAD_IN =
  /^(?:(?:please|pls|kindly|can you|could you|would you|i'?d like (?:you )?to|i want (?:you )?to|let'?s|we should|you should)\s+)+/i;

function cut(text: string, max = LESSON_RULE_MAX): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A person's words as one short imperative sentence: no lead-in, the first sentence, capitalised. */
function imperative(raw: string): string {
  const text = raw
    .replace(/<[@#!][^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^changes?\s*:\s*/i, "")
    .replace(LEAD_IN, "");
  const first = (text.split(/(?<=[.!?])\s+/)[0] ?? text).replace(/[\s.!?,;:]+$/, "");
  return cut(first.charAt(0).toUpperCase() + first.slice(1));
}

/** The settings a change request names, one lesson each ("use 20 epochs" → "Train for 20 epochs unless told otherwise"). */
function settingsOf(text: string): LessonDraft[] {
  const out: LessonDraft[] = [];
  const epochs = Number(SETTING_PATTERNS.epochs.exec(text)?.[1]);
  if (Number.isInteger(epochs) && epochs >= 1) {
    out.push({ rule: `Train for ${epochs} epochs unless told otherwise`, setting: { name: "epochs", value: epochs }, roles: [] });
  }
  const lr = readLearningRate(text);
  if (lr !== undefined) {
    out.push({ rule: `Use learning rate ${lr} unless told otherwise`, setting: { name: "learningRate", value: lr }, roles: [] });
  }
  const batch = readBatchSize(text);
  if (batch !== undefined) {
    out.push({
      rule: `Train in mini-batches of ${batch} unless told otherwise`,
      setting: { name: "batchSize", value: batch },
      roles: [],
    });
  }
  const seed = readSeed(text);
  if (seed !== undefined) {
    out.push({ rule: `Fix the random seed to ${seed} unless told otherwise`, setting: { name: "seed", value: seed }, roles: [] });
  }
  // "not an MLP" is no lesson to use one; the sentence is kept as a rule instead.
  const model = SETTING_PATTERNS.mlp.test(text) ? "mlp" : SETTING_PATTERNS.logreg.test(text) ? "logreg" : undefined;
  if (model && !NEGATED.test(text)) {
    out.push({
      rule: `Use ${model === "mlp" ? `a ${MODEL_NAMES.mlp}` : MODEL_NAMES.logreg} unless told otherwise`,
      setting: { name: "model", value: model },
      roles: [],
    });
  }
  return out;
}

/**
 * The lessons a person's change request teaches (deterministic). Each setting it names (epochs,
 * learning rate, batch size, seed, model family) is one lesson carrying the setting; a request
 * naming none is one rule in the person's words. Nothing is learnt from a request that only drops a
 * step or names a dataset (both are about that task), or from one too short to be a rule.
 */
export function lessonsFromChangeRequest(text: string): LessonDraft[] {
  const settings = settingsOf(text);
  if (settings.length > 0) return settings;
  const rule = imperative(text);
  if (rule.length < 8 || DROP_ONLY.test(rule) || findDataset(rule) !== undefined) return [];
  return [{ rule, roles: [] }];
}

/** The rule a finding's category teaches, sharpened by the finding's words where they say more. */
function ruleFor(f: Pick<Finding, "category" | "message">): string {
  const m = f.message;
  switch (f.category) {
    case "data_leakage":
      if (/scal|normali[sz]|standardi[sz]/i.test(m)) return "Fit the scaler on the train split only";
      if (/imput/i.test(m)) return "Fit imputation on the train split only";
      if (/test (split|set)/i.test(m) && /select|tun|choos|early.?stop/i.test(m))
        return "Never use the test split for model selection";
      return "Split train/val/test before any fitted transform and fit it on the train split only";
    case "reproducibility":
      return "Seed every source of randomness and record the seed";
    case "numerical_stability":
      if (/sigmoid/i.test(m)) return "Use a numerically stable sigmoid";
      if (/\blog\b|log\(|logit|log-sum-exp|logaddexp/i.test(m))
        return "Compute losses from logits with log-sum-exp; never take the log of a value that can be 0";
      if (/divi|denominator|std/i.test(m)) return "Guard every division against a zero denominator";
      return "Use numerically stable formulations (stable sigmoid, log-sum-exp, guarded divisions)";
    case "memory":
      return "Load data once and work in mini-batches; never load data or grow arrays inside a loop";
    case "type_hints":
      return "Give every public function type hints";
    case "documentation":
      return "Give every module and public function a docstring";
    case "tests":
      return "Write unit tests for every changed module";
    case "other":
      return cut(`Avoid what the reviewer found before: ${imperative(m)}`);
    default: {
      const never: never = f.category;
      throw new Error(`unknown review category ${String(never)}`);
    }
  }
}

/**
 * The lesson a reviewer's finding teaches once it led to a fix round: the rule of its pitfall
 * category (e.g. a data_leakage finding about a scaler → "Fit the scaler on the train split only"),
 * concerning the role of the step that owned the code.
 */
export function lessonFromFinding(finding: Pick<Finding, "category" | "message">, ownerRole?: Role): LessonDraft {
  return { rule: ruleFor(finding), roles: ownerRole ? [ownerRole] : [] };
}

/**
 * The offline brain's `learn`: the lessons of `lessonsFromChangeRequest`, each `standing` — or all
 * `one-off` when the person says the change is for this task only ("use 30 epochs for this one").
 */
export function learnFromChangeRequest(text: string): LearnedLesson[] {
  const scope = THIS_TASK_ONLY.test(text) ? "one-off" : "standing";
  return lessonsFromChangeRequest(text).map((d) => ({ ...d, scope }));
}

import type { Role } from "@mllead/contracts";
import { MODEL_NAMES } from "./params.js";
import type { PlanShape, StepKey } from "./plan-shape.js";
import { clampEpochs, readBatchSize, readLearningRate, readSeed, SETTING_PATTERNS } from "./task-profile.js";

const MAX_EXTRA = 8;
const SKIP = /\b(skip|drop|remove|no need for|without|omit|don'?t (do|run|need))\b/i;
const ANALYSIS = /\b(analy\w*|analyst|report|eda|plots?)\b/i;
const DATA = /\b(data step|data[- ]engineer|data prep\w*|data validation|preprocess\w*|the data)\b/i;
const REVIEW = /\b(review\w*|code[- ]review\w*|reviewer)\b/i;
const ADD = /\b(add|include|also|plus|with)\b/i;
/**
 * The tech lead's own feedback when a step failed and it asks for a re-plan
 * (services/tech-lead `startReplan`): `The <role> step "<title>" failed: <error>.`
 */
const STEP_FAILED = /^The (data-engineer|ml-engineer|analyst|code-reviewer) step ".*?" failed: (.*)$/s;

/** True when a feedback item is the tech lead's own re-plan request after a failed step, not a person's words. */
export function isStepFailure(item: string): boolean {
  return STEP_FAILED.test(item.trim());
}

const KEYS_OF: Record<Role, StepKey[]> = {
  "data-engineer": ["data"],
  "ml-engineer": ["train"],
  analyst: ["analyze", "cause"],
  "code-reviewer": ["review"],
};

function quote(text: string): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > 240 ? `${t.slice(0, 239)}…` : t;
}

function copyShape(previous: PlanShape): PlanShape {
  const copy = (k: StepKey) => previous.extra[k].map((r) => ({ ...r }));
  return {
    profile: { ...previous.profile },
    include: { ...previous.include },
    extra: { data: copy("data"), train: copy("train"), analyze: copy("analyze"), cause: copy("cause"), review: copy("review") },
    notes: [...previous.notes],
  };
}

function routeExtra(item: string, shape: PlanShape): StepKey[] {
  const keys: StepKey[] = [];
  if (shape.include.data && /\b(data|table|column|feature|null|split|schema|clean|valid\w*|sample)\w*/i.test(item))
    keys.push("data");
  if (
    shape.include.train &&
    /\b(train\w*|model|epoch|learning|loss|batch|optimi\w*|metric|auc|accuracy|precision|recall|f1|gpu|layer|seed)\w*/i.test(item)
  )
    keys.push("train");
  if (
    shape.include.analyze &&
    /\b(report|plot|chart|analy\w*|compar\w*|statistic\w*|explain|summary|precision|recall)\w*/i.test(item)
  )
    keys.push("analyze");
  if (shape.include.cause && /\b(cause|why|explain\w*|drift\w*|shift\w*)\b/i.test(item)) keys.push("cause");
  if (/\b(review\w*|test\w*|lint|type hints?|docstring\w*)\b/i.test(item)) keys.push("review");
  if (keys.length > 0) return keys;
  // Nothing points at one step: every worker step carries it, so no one can miss it.
  return (["data", "cause", "train", "analyze"] as const).filter((k) => shape.include[k]);
}

/** Settings the item names (epochs, learning rate, batch size, seed, model family): they change the steps' params. */
function applySettings(shape: PlanShape, item: string, answers: string[]): void {
  const p = shape.profile;
  const epochs = SETTING_PATTERNS.epochs.exec(item);
  if (epochs?.[1]) {
    const asked = Number(epochs[1]);
    const n = clampEpochs(asked);
    if (!shape.include.train) answers.push(`no training step in this plan, so ${asked} epochs does not apply`);
    else {
      answers.push(`training now runs ${n} epochs (was ${p.epochs})${n !== asked ? `; ${asked} is over the offline cap` : ""}`);
      p.epochs = n;
    }
  }
  const lr = readLearningRate(item);
  if (lr !== undefined && shape.include.train) {
    answers.push(`learning rate is now ${lr} (was ${p.lr})`);
    p.lr = lr;
  }
  const batch = readBatchSize(item);
  if (batch !== undefined && shape.include.train) {
    answers.push(`mini-batches are now ${batch} rows (was ${p.batchSize})`);
    p.batchSize = batch;
  }
  const seed = readSeed(item);
  if (seed !== undefined) {
    answers.push(`the seed is now ${seed} (was ${p.seed})`);
    p.seed = seed;
  }
  if (shape.include.train && SETTING_PATTERNS.mlp.test(item) && !SKIP.test(item) && p.model !== "mlp") {
    answers.push(`the model is now a ${MODEL_NAMES.mlp} (was ${MODEL_NAMES[p.model]})`);
    p.model = "mlp";
  } else if (shape.include.train && SETTING_PATTERNS.logreg.test(item) && p.model !== "logreg") {
    answers.push(`the model is now a ${MODEL_NAMES.logreg} (was ${MODEL_NAMES[p.model]})`);
    p.model = "logreg";
  }
}

/** Steps to drop or add. */
function applySteps(shape: PlanShape, item: string, answers: string[]): void {
  const triage = shape.profile.kind === "triage";
  if (SKIP.test(item) && REVIEW.test(item)) {
    answers.push("the code review stays: it is the mandatory quality gate for every code change");
  } else if (triage && SKIP.test(item) && (ANALYSIS.test(item) || DATA.test(item))) {
    answers.push("a triage keeps all its steps: investigate, find the root cause, fix, then verify that the fix worked");
  } else if (SKIP.test(item) && ANALYSIS.test(item)) {
    if (shape.include.analyze && shape.include.train && shape.profile.production) {
      answers.push("the analyst step stays: production code is compared with the model it replaces before it ships");
    } else if (shape.include.analyze) {
      shape.include.analyze = false;
      answers.push("the analyst step is dropped; the review now follows the last code step");
    } else answers.push("there was no analyst step to drop");
  } else if (SKIP.test(item) && DATA.test(item)) {
    if (shape.include.data && shape.profile.production) {
      answers.push("the data step stays: production code is trained on validated data");
    } else if (shape.include.data && shape.include.train && !shape.include.analyze) {
      shape.include.data = false;
      answers.push("the data step is dropped; the training job rebuilds the synthetic splits itself");
    } else if (shape.include.data && shape.include.train) {
      shape.include.data = false;
      answers.push("the data step is dropped; training rebuilds the synthetic splits and the analyst reads its metrics");
    } else if (shape.include.data) {
      answers.push("the data step stays: the other steps have no data without it");
    } else answers.push("there was no data step to drop");
  } else if (ADD.test(item) && ANALYSIS.test(item) && !shape.include.analyze && (shape.include.train || shape.include.data)) {
    shape.include.analyze = true;
    answers.push("an analyst step now writes a report");
  }
}

/**
 * A step failed and the tech lead asks for a re-plan. The offline specialists
 * cannot check what people asked for in plan review; when the failed step
 * carried such a request, every request stays as a requirement but is no
 * longer an acceptance criterion, and the note says so. Otherwise nothing
 * the offline planner can change would fix it, and the note says that.
 */
function answerFailure(shape: PlanShape, role: Role, error: string): string {
  const why = quote(error.split("\n")[0] ?? error);
  const mine = KEYS_OF[role].some((k) => shape.extra[k].some((r) => r.criterion));
  if (!mine) {
    return `the ${role} step failed (${why}); the offline planner has no other way to do it, so the plan stays as it was and running it again may fail the same way`;
  }
  const demoted = (Object.keys(shape.extra) as StepKey[]).flatMap((k) => shape.extra[k].filter((r) => r.criterion));
  for (const r of demoted) r.criterion = false;
  return `the ${role} step failed because the offline specialists cannot check what plan review asked for (${[...new Set(demoted.map((r) => `"${r.item}"`))].join(", ")}); those requests stay as requirements but are no longer acceptance criteria — approve to run without those checks, or run with Claude, which would carry them out`;
}

/** Applies one feedback item; returns a new shape with a note saying how the item was answered. */
export function applyFeedback(previous: PlanShape, rawItem: string): PlanShape {
  const item = quote(rawItem);
  const shape = copyShape(previous);
  const failure = STEP_FAILED.exec(rawItem.trim());
  if (failure) {
    shape.notes.push(`Re-plan: ${answerFailure(shape, failure[1] as Role, failure[2] ?? "")}.`);
    return shape;
  }
  const answers: string[] = [];
  applySettings(shape, item, answers);
  applySteps(shape, item, answers);
  if (answers.length === 0) {
    // No setting or step the planner knows: the request becomes a requirement and a criterion the step must show.
    const keys = routeExtra(item, shape);
    const target: StepKey[] = keys.length > 0 ? keys : ["review"];
    for (const k of target) {
      if (shape.extra[k].length < MAX_EXTRA) shape.extra[k].push({ item, criterion: true });
    }
    answers.push(
      `added as a requirement and an acceptance criterion on ${target.join(", ")} (the offline specialists cannot check it; with Claude they would)`,
    );
  }
  shape.notes.push(`"${item}": ${answers.join("; ")}.`);
  return shape;
}

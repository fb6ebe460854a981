import type { PlanShape, WorkerKey } from "./plan-shape.js";
import { clampEpochs } from "./task-profile.js";

const MAX_EXTRA = 8;
const SKIP = /\b(skip|drop|remove|no need for|without|omit|don'?t (do|run|need))\b/i;
const ANALYSIS = /\b(analy\w*|analyst|report|eda|plots?)\b/i;
const DATA = /\b(data step|data[- ]engineer|data prep\w*|data validation|preprocess\w*|the data)\b/i;
const REVIEW = /\b(review\w*|code[- ]review\w*|reviewer)\b/i;
const ADD = /\b(add|include|also|plus|with)\b/i;

function quote(text: string): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > 240 ? `${t.slice(0, 239)}…` : t;
}

function routeExtra(item: string, shape: PlanShape): (WorkerKey | "review")[] {
  const keys: (WorkerKey | "review")[] = [];
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
  if (/\b(review\w*|test\w*|lint|type hints?|docstring\w*)\b/i.test(item)) keys.push("review");
  if (keys.length > 0) return keys;
  // Nothing points at one step: every worker step carries it, so no one can miss it.
  return (["data", "train", "analyze"] as const).filter((k) => shape.include[k]);
}

/** Applies one feedback item; returns a new shape with a note saying how the item was answered. */
export function applyFeedback(previous: PlanShape, rawItem: string): PlanShape {
  const item = quote(rawItem);
  const shape: PlanShape = {
    profile: { ...previous.profile },
    include: { ...previous.include },
    extra: {
      data: [...previous.extra.data],
      train: [...previous.extra.train],
      analyze: [...previous.extra.analyze],
      review: [...previous.extra.review],
    },
    notes: [...previous.notes],
  };
  const answers: string[] = [];
  const p = shape.profile;

  const epochs = /\b(\d{1,4})\s*epochs?\b/i.exec(item);
  if (epochs?.[1]) {
    const n = clampEpochs(Number(epochs[1]));
    if (!shape.include.train) {
      answers.push(`no training step in this plan, so ${n} epochs does not apply`);
    } else {
      answers.push(`training now runs ${n} epochs (was ${p.epochs})`);
      p.epochs = n;
    }
  }
  const lr = /\b(?:learning rate|lr)\s*(?:of|=|:|to|at)?\s*(\d*\.?\d+(?:e-?\d+)?)/i.exec(item);
  if (lr?.[1] && shape.include.train && Number(lr[1]) > 0 && Number(lr[1]) <= 10) {
    answers.push(`learning rate is now ${Number(lr[1])} (was ${p.lr})`);
    p.lr = Number(lr[1]);
  }
  if (shape.include.train && /\b(mlp|neural net\w*|hidden layers?)\b/i.test(item) && !SKIP.test(item) && p.model !== "mlp") {
    answers.push("the model is now a one-hidden-layer MLP (was logistic regression)");
    p.model = "mlp";
  } else if (shape.include.train && /\blogistic regression\b/i.test(item) && p.model !== "logreg") {
    answers.push("the model is now a logistic regression (was an MLP)");
    p.model = "logreg";
  }

  if (SKIP.test(item) && REVIEW.test(item)) {
    answers.push("the code review stays: it is the mandatory quality gate for every code change");
  } else if (SKIP.test(item) && ANALYSIS.test(item)) {
    if (shape.include.analyze) {
      shape.include.analyze = false;
      answers.push("the analyst step is dropped; the review now follows the last code step");
    } else answers.push("there was no analyst step to drop");
  } else if (SKIP.test(item) && DATA.test(item)) {
    if (shape.include.data && shape.include.train && !shape.include.analyze) {
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

  if (answers.length === 0) {
    const keys = routeExtra(item, shape);
    for (const k of keys) {
      if (shape.extra[k].length < MAX_EXTRA) shape.extra[k].push(`Requested in plan review: "${item}"`);
    }
    answers.push(`added as an explicit requirement on ${keys.length > 0 ? keys.join(", ") : "review"}`);
    if (keys.length === 0 && shape.extra.review.length < MAX_EXTRA)
      shape.extra.review.push(`Requested in plan review: "${item}"`);
  }
  shape.notes.push(`"${item}": ${answers.join("; ")}.`);
  return shape;
}

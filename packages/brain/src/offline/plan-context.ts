import { isAnswersFeedback, type PlanQuestion, type ScoutReport } from "@mllead/contracts";
import type { PlanShape } from "./plan-shape.js";
import { findDataset, type TaskProfile } from "./task-profile.js";

/** A request that names a goal but nothing to measure it on: "improve the model", "make it better". */
const VAGUE = /\b(improve|better|boost|enhance|optimi[sz]e|help with|work on|look at)\b/i;
/** Words that name the label the work is about. */
const TARGET = /\b(target|label|predict\w*|churn\w*|fraud|conversion|revenue)\b/i;
/** The choice standing for the demo's own data (a button label, at most 75 characters). */
export const DEMO_DATA_CHOICE = "the demo's synthetic churn table (`customers`)";

/**
 * What the offline planner takes as given, said in the plan: its specialists run the shipped demo pipeline
 * on a synthetic churn-like table whatever the request names (so every metric is synthetic), and — when the
 * request names no table or label — which ones it works on.
 */
export function offlineAssumptions(p: TaskProfile): string[] {
  const out = [
    `Offline brain: the steps run the shipped demo pipeline on a deterministic synthetic churn-like table standing in for \`${p.dataset}\`; every metric is synthetic.`,
  ];
  if (!p.datasetNamed) out.push(`No table was named: the plan works on \`${p.dataset}\`, the demo's data.`);
  if (!TARGET.test(p.text)) out.push("No label was named: the target is `churned`, the demo table's label.");
  return out;
}

/**
 * The one question the offline planner asks: which data, for a request that is clearly ambiguous — a vague
 * goal with no table, label or metric named (e.g. "improve the model"). Its choices are the text tables the
 * scout found in the data folders (at most three) and the demo's own data. No question once it was answered.
 */
export function offlineQuestions(p: TaskProfile, feedback: readonly string[], context?: ScoutReport): PlanQuestion[] {
  const ambiguous = !p.datasetNamed && p.metricNamed === undefined && !TARGET.test(p.text) && VAGUE.test(p.text);
  if (!ambiguous || feedback.some(isAnswersFeedback)) return [];
  const tables = (context?.dataDirs ?? [])
    .flatMap((d) => d.files.map((f) => f.path))
    .filter((path) => /\.(csv|tsv|parquet)$/i.test(path) && path.length <= 75)
    .slice(0, 3);
  return [
    {
      id: "data",
      text: "Which table (and label) should the work be on? The request names no data, target or metric, so I would be guessing.",
      choices: [...tables, DEMO_DATA_CHOICE],
    },
  ];
}

/**
 * Applies the answers to the plan's questions (the tech lead's `answersFeedback`): a table named in an answer
 * becomes the steps' dataset; the note says what was answered. The answers are not change requests: they add
 * no requirement or acceptance criterion.
 */
export function applyAnswers(previous: PlanShape, item: string): PlanShape {
  const answers = item
    .split("\n")
    .slice(1)
    .map((line) => line.split("→").at(-1)?.trim() ?? "")
    .filter(Boolean);
  const profile = { ...previous.profile };
  const named = answers.map((a) => findDataset(a)).find((d) => d !== undefined);
  if (named) {
    profile.dataset = named;
    profile.datasetNamed = true;
  }
  const said = answers.join("; ").slice(0, 240);
  return {
    ...previous,
    profile,
    notes: [...previous.notes, `You answered: ${said}${named ? ` (the steps now work on \`${named}\`)` : ""}.`],
  };
}

import type { Lesson, LessonSettingName, Plan, Role, Step } from "@mllead/contracts";
import { isOfflineModel } from "./params.js";
import type { PlanShape } from "./plan-shape.js";
import { clampEpochs, readBatchSize, readLearningRate, readSeed, SETTING_PATTERNS } from "./task-profile.js";

/** Lesson requirements one step carries at most (the step keeps room for its own and for plan review's). */
const MAX_LESSONS_PER_STEP = 5;
/** The contract's cap on a step's requirements. */
const MAX_REQUIREMENTS = 20;

/** Whether a person's words name a setting: then they win over a lesson about it. */
const NAMES: Readonly<Record<LessonSettingName, (text: string) => boolean>> = {
  epochs: (t) => SETTING_PATTERNS.epochs.test(t),
  learningRate: (t) => readLearningRate(t) !== undefined,
  batchSize: (t) => readBatchSize(t) !== undefined,
  seed: (t) => readSeed(t) !== undefined,
  model: (t) => SETTING_PATTERNS.mlp.test(t) || SETTING_PATTERNS.logreg.test(t),
};

/** Sets one lesson's setting on the profile; false when it does not apply to this plan. */
function setOne(shape: PlanShape, lesson: Lesson): boolean {
  const p = shape.profile;
  const { name, value } = lesson.setting ?? { name: undefined, value: undefined };
  const trains = shape.include.train;
  // A sweep searches the learning rate and the batch size itself.
  const swept = p.kind === "sweep";
  switch (name) {
    case "epochs":
      if (!trains || typeof value !== "number") return false;
      p.epochs = clampEpochs(value);
      return true;
    case "learningRate":
      if (!trains || swept || typeof value !== "number" || !(value > 0 && value <= 10)) return false;
      p.lr = value;
      return true;
    case "batchSize":
      if (!trains || swept || typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 1_000_000)
        return false;
      p.batchSize = value;
      return true;
    case "seed":
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= 2 ** 31) return false;
      p.seed = value;
      return true;
    case "model":
      if (!trains || typeof value !== "string" || !isOfflineModel(value)) return false;
      p.model = value;
      return true;
    case undefined:
      return false;
    default: {
      const never: never = name;
      throw new Error(`unknown lesson setting ${String(never)}`);
    }
  }
}

/**
 * Applies the lessons that are settings (epochs, learning rate, batch size, seed, model family) to a
 * new plan's shape, like a change request would — except where `said` (the task text and the
 * people's feedback) names that setting itself, or the plan has nothing the setting could change.
 * Later lessons win over earlier ones about the same setting. Returns the ids applied.
 */
export function applySettingLessons(
  previous: PlanShape,
  lessons: readonly Lesson[],
  said: readonly string[],
): { shape: PlanShape; applied: Set<string> } {
  const shape: PlanShape = { ...previous, profile: { ...previous.profile } };
  const applied = new Set<string>();
  const last = new Map<LessonSettingName, Lesson>();
  for (const l of lessons) if (l.setting) last.set(l.setting.name, l);
  for (const [name, lesson] of last) {
    if (said.some((t) => NAMES[name](t))) continue;
    if (setOne(shape, lesson)) applied.add(lesson.id);
  }
  return { shape, applied };
}

const DATA = /\b(data|table|column|feature|null|split|schema|clean|valid|sample|imput|leak|row)\w*/i;
const TRAIN =
  /\b(train|model|epoch|learning|loss|batch|optimi|metric|auc|accuracy|gpu|layer|scal|normali|sigmoid|logit|checkpoint|hyper)\w*/i;
const REPORT = /\b(report|plot|chart|analy|compar|statistic|explain|summar|visuali)\w*/i;
const CODE = /\b(tests?|type hints?|docstrings?|lint\w*|random|seed\w*)\b/i;

/** The steps a lesson concerns: its roles; else those its words point at; else every step but the review. */
function stepsFor(plan: Plan, lesson: Lesson): Step[] {
  const workers = plan.steps.filter((s) => s.role !== "code-reviewer");
  if (lesson.roles.length > 0) return plan.steps.filter((s) => lesson.roles.includes(s.role));
  if (CODE.test(lesson.rule)) return workers.filter((s) => s.changesCode);
  const roles = new Set<Role>();
  if (DATA.test(lesson.rule)) roles.add("data-engineer");
  if (TRAIN.test(lesson.rule)) roles.add("ml-engineer");
  if (REPORT.test(lesson.rule)) roles.add("analyst");
  if (roles.size === 0) return workers;
  return workers.filter((s) => roles.has(s.role));
}

/** The requirement a lesson becomes on a step. */
export function lessonRequirement(lesson: Pick<Lesson, "id" | "rule">): string {
  return `Lesson ${lesson.id} from earlier tasks in this channel: ${lesson.rule}.`;
}

/**
 * Lessons that are not settings become a requirement of the steps they concern (for people and for
 * Claude's specialists; no acceptance criterion, which the offline specialists could not check). A
 * lesson whose steps are not in the plan, or that finds no room on them, is not applied.
 */
export function addLessonRequirements(plan: Plan, lessons: readonly Lesson[]): { plan: Plan; applied: Set<string> } {
  const applied = new Set<string>();
  const steps = plan.steps.map((s) => ({ ...s, requirements: [...s.requirements] }));
  const out: Plan = { ...plan, steps };
  const added = new Map<string, number>();
  for (const lesson of lessons) {
    if (lesson.setting) continue;
    for (const target of stepsFor(out, lesson)) {
      const n = added.get(target.id) ?? 0;
      if (n >= MAX_LESSONS_PER_STEP || target.requirements.length >= MAX_REQUIREMENTS) continue;
      target.requirements.push(lessonRequirement(lesson));
      added.set(target.id, n + 1);
      applied.add(lesson.id);
    }
  }
  return { plan: out, applied };
}

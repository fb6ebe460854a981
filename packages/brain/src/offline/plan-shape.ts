import type { PlanTrack, TaskShape } from "@mllead/contracts";
import type { TaskProfile } from "./task-profile.js";

/**
 * The worker steps the offline planner knows; the review step is always added. What each one is depends
 * on the task's kind: `data` validates and splits (in a triage it investigates the data behind the drop),
 * `train` trains (a sweep's search, a triage's fix), `analyze` reports (EDA without a model, a triage's
 * verification), `cause` is a triage's root-cause analysis.
 */
export type WorkerKey = "data" | "train" | "analyze" | "cause";
export type StepKey = WorkerKey | "review";
const WORKER_KEYS: readonly WorkerKey[] = ["data", "cause", "train", "analyze"];

/** Something a person asked for in plan review that the planner has no setting for. */
interface ReviewRequest {
  /** The person's words (quoted, at most 240 characters). */
  item: string;
  /**
   * Also an acceptance criterion, so the step must show it. The offline
   * specialists cannot check such a request; after a step fails on one, the
   * re-plan keeps it as a requirement only (see revise.ts).
   */
  criterion: boolean;
}

/** Everything the offline planner turns into a plan: the task profile plus what feedback changed. */
export interface PlanShape {
  /** The task as read from the person's text; revisions change its settings (epochs, learning rate, model…). */
  profile: TaskProfile;
  include: Record<WorkerKey, boolean>;
  /** Requests people made in plan review, per step (`review` included). */
  extra: Record<StepKey, ReviewRequest[]>;
  /** One line per feedback item saying how the revision answers it. */
  notes: string[];
}

/** The first shape for a task profile, before any feedback. */
export function initialShape(profile: TaskProfile): PlanShape {
  const include: Record<WorkerKey, boolean> = {
    full: { data: true, train: true, analyze: true, cause: false },
    eda: { data: true, train: false, analyze: true, cause: false },
    model: { data: false, train: true, analyze: profile.wantsAnalysis, cause: false },
    data: { data: true, train: false, analyze: false, cause: false },
    quality: { data: true, train: false, analyze: true, cause: false },
    sweep: { data: true, train: true, analyze: true, cause: false },
    triage: { data: true, train: true, analyze: true, cause: true },
  }[profile.kind];
  if (profile.production && include.train) {
    // Production leans to correctness: validated data under the model, and a comparison with the model it replaces.
    include.data = true;
    include.analyze = true;
  }
  return { profile, include, extra: { data: [], train: [], analyze: [], cause: [], review: [] }, notes: [] };
}

/** The steps present, in plan order. */
export function workers(shape: PlanShape): WorkerKey[] {
  return WORKER_KEYS.filter((k) => shape.include[k]);
}

/** The plan's shape as the contracts name it, from the kind of task and the steps left after feedback. */
export function taskShape(shape: PlanShape): TaskShape {
  const kind = shape.profile.kind;
  switch (kind) {
    case "triage":
      return "triage";
    case "sweep":
      return "sweep";
    case "quality":
      return "data-quality";
    case "full":
    case "model":
    case "eda":
    case "data":
      if (workers(shape).length === 1) return "single-specialist";
      return shape.include.train ? "experiment-cycle" : "exploration";
    default: {
      const never: never = kind;
      throw new Error(`unknown task kind ${String(never)}`);
    }
  }
}

/** Experiment or production (the seed's speed-versus-correctness rule). */
export function planTrack(shape: PlanShape): PlanTrack {
  return shape.profile.production ? "production" : "experiment";
}

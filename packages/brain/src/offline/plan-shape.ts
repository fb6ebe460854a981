import type { TaskProfile } from "./task-profile.js";

/** The worker steps the offline planner knows; the review step is always added. */
export type WorkerKey = "data" | "train" | "analyze";

/** Everything the offline planner turns into a plan: the task profile plus what feedback changed. */
export interface PlanShape {
  profile: TaskProfile;
  include: Record<WorkerKey, boolean>;
  /** Requirements people asked for in plan review, per step (`review` included). */
  extra: Record<WorkerKey | "review", string[]>;
  /** One line per feedback item saying how the revision answers it. */
  notes: string[];
}

/** The first shape for a task profile, before any feedback. */
export function initialShape(profile: TaskProfile): PlanShape {
  const include: Record<WorkerKey, boolean> = {
    full: { data: true, train: true, analyze: true },
    eda: { data: true, train: false, analyze: true },
    model: { data: false, train: true, analyze: profile.wantsAnalysis },
    data: { data: true, train: false, analyze: false },
  }[profile.kind];
  return { profile, include, extra: { data: [], train: [], analyze: [], review: [] }, notes: [] };
}

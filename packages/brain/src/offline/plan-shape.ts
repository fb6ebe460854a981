import type { TaskProfile } from "./task-profile.js";

/** The worker steps the offline planner knows; the review step is always added. */
export type WorkerKey = "data" | "train" | "analyze";
export type StepKey = WorkerKey | "review";

/** Something a person asked for in plan review that the planner has no setting for. */
export interface ReviewRequest {
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
    full: { data: true, train: true, analyze: true },
    eda: { data: true, train: false, analyze: true },
    model: { data: false, train: true, analyze: profile.wantsAnalysis },
    data: { data: true, train: false, analyze: false },
  }[profile.kind];
  return { profile, include, extra: { data: [], train: [], analyze: [], review: [] }, notes: [] };
}

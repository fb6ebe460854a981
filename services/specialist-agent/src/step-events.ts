import type { Bus } from "@mllead/bus";
import {
  type CriterionResult,
  emitEvent,
  lastEvent,
  type StepResult,
  type StepWork,
  SUBJECTS,
  type Usage,
} from "@mllead/contracts";
import type { SandboxKind } from "@mllead/sandbox";
import { infra } from "./errors.js";

/** What `step.started` tells the thread besides the step: where it runs. */
export interface StartDetails {
  /** The task's branch, when its worktree opened. */
  branch?: string;
  /** The sandbox kind commands run in, when the environment opened. */
  sandbox?: SandboxKind;
  /** The sandbox's warning (a weaker sandbox than bubblewrap). */
  warning?: string;
}

/**
 * The events of one step attempt on the task's events stream. Event ids are deterministic (type, task,
 * step, attempt; progress lines counted per attempt), so a redelivered step's events are dropped as
 * duplicates. Every call is to NATS: a failure is an `InfrastructureError`, and the step is redelivered.
 */
export interface StepEvents {
  /** `step.completed` or `step.failed` when this attempt (or a later one) already ended, else null. */
  alreadyFinished(): Promise<"step.completed" | "step.failed" | null>;
  started(details: StartDetails): Promise<void>;
  completed(result: StepResult): Promise<void>;
  failed(error: string, criteria?: CriterionResult[], usage?: Usage): Promise<void>;
  /** A progress line for the thread (at most 1,000 characters). */
  progress(message: string): Promise<void>;
}

/** The events of `work`'s attempt, emitted on `bus`. */
export function stepEvents(bus: Bus, work: StepWork): StepEvents {
  const base = () => ({
    v: 1 as const,
    taskId: work.taskId,
    stepId: work.stepId,
    role: work.role,
    attempt: work.attempt,
    at: new Date().toISOString(),
  });
  const idOf = (type: string) => `${type}:${work.taskId}:${work.stepId}:${work.attempt}`;
  let progressCount = 0;
  return {
    async alreadyFinished() {
      for (const type of ["step.completed", "step.failed"] as const) {
        const subject = SUBJECTS.event({ type, taskId: work.taskId, stepId: work.stepId });
        const last = await infra("looking up the step", () => lastEvent(bus, subject));
        if (last && "attempt" in last && last.attempt >= work.attempt) return type;
      }
      return null;
    },
    started: (details) =>
      infra("reporting the step start", () =>
        emitEvent(bus, {
          ...base(),
          type: "step.started",
          eventId: idOf("step.started"),
          title: work.step.title,
          ...(details.branch ? { branch: details.branch } : {}),
          ...(details.sandbox ? { sandbox: details.sandbox } : {}),
          ...(details.warning ? { warning: details.warning.slice(0, 500) } : {}),
          ...(work.findings.length > 0 ? { fixing: work.findings.length } : {}),
        }),
      ),
    completed: (result) =>
      infra("reporting the step result", () =>
        emitEvent(bus, { ...base(), type: "step.completed", eventId: idOf("step.completed"), title: work.step.title, result }),
      ),
    failed: (error, criteria, usage) =>
      infra("reporting the step failure", () =>
        emitEvent(bus, {
          ...base(),
          type: "step.failed",
          eventId: idOf("step.failed"),
          title: work.step.title,
          error,
          ...(criteria?.length ? { criteria } : {}),
          ...(usage ? { usage } : {}),
        }),
      ),
    async progress(message) {
      progressCount += 1;
      await infra("reporting progress", () =>
        emitEvent(bus, {
          ...base(),
          type: "step.progress",
          eventId: `${idOf("step.progress")}:${progressCount}`,
          message: message.slice(0, 1000),
        }),
      );
    },
  };
}

import type { LearnedLesson, Plan, StepResult, StepWork } from "@mllead/contracts";
import type { Logger } from "pino";
import { learnFromChangeRequest, lessonFromFinding } from "../lesson-drafts.js";
import type { Brain, PlanRequest, StepTools, SummaryRequest } from "../types.js";
import { runAnalyst } from "./analyst.js";
import { runCodeReviewer } from "./code-reviewer.js";
import { runDataEngineer } from "./data-engineer.js";
import { runMlEngineer } from "./ml-engineer.js";
import { offlinePlan } from "./planner.js";
import { DEFAULT_JOBS_DIR } from "./shared.js";
import { markReinforced } from "./similar-lessons.js";
import { offlineSummary } from "./summary.js";

/** Options of the offline brain. */
interface OfflineBrainOptions {
  /** Where the shipped job scripts live; defaults to `<repo>/jobs`. */
  jobsDir?: string;
  log?: Logger;
}

/**
 * The offline brain: deterministic, needs no key, follows the seed's rules in code.
 * Plans from the task text, with each step's settings as structured params;
 * specialists read those params and run the shipped scripts for real through
 * the same toolbox the Claude loop drives (Read, Write, Bash,
 * SubmitGpuJob, FinishStep).
 */
export function createOfflineBrain(opts: OfflineBrainOptions = {}): Brain {
  const ctx = { jobsDir: opts.jobsDir ?? DEFAULT_JOBS_DIR };
  return {
    kind: "offline",
    async plan(req: PlanRequest): Promise<Plan> {
      const plan = offlinePlan(req.text, req.previous?.feedback ?? [], req.lessons ?? [], req.context);
      opts.log?.debug(
        { taskId: req.taskId, steps: plan.steps.map((s) => s.id), revision: req.previous ? req.previous.feedback.length : 0 },
        "offline plan",
      );
      return plan;
    },
    async runStep(work: StepWork, tools: StepTools): Promise<StepResult> {
      switch (work.role) {
        case "data-engineer":
          return runDataEngineer(work, tools, ctx);
        case "ml-engineer":
          return runMlEngineer(work, tools, ctx);
        case "analyst":
          return runAnalyst(work, tools, ctx);
        case "code-reviewer":
          return runCodeReviewer(work, tools, ctx);
        default: {
          const never: never = work.role;
          throw new Error(`unknown role ${String(never)}`);
        }
      }
    },
    async summarize(req: SummaryRequest): Promise<string> {
      return offlineSummary(req);
    },
    // The offline brain reads corrections with its fixed rules (lesson-drafts.ts); the Claude brain asks Claude.
    async learn(req) {
      return markReinforced(learnFromChangeRequest(req.feedback), req.lessons);
    },
    async lessonFromFinding(req) {
      const lesson: LearnedLesson = { ...lessonFromFinding(req.finding, req.ownerRole), scope: "standing" };
      return markReinforced([lesson], req.lessons)[0] ?? null;
    },
  };
}

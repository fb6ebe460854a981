import { type Brain, StepLoopError } from "@mllead/brain";
import type { Bus } from "@mllead/bus";
import { type CriterionResult, describeUnmet, StepResult, type StepWork, type Usage, unmetCriteria } from "@mllead/contracts";
import { formatIssues, scrubSecrets } from "@mllead/service-kit";
import type { Logger } from "pino";
import { isRetryable } from "./errors.js";
import type { ToolSettings } from "./settings.js";
import type { StepEnvironment } from "./step-env.js";
import type { StepEvents } from "./step-events.js";
import { commitsStep, committedResult, pushedResult, reviewedResult, runStepOnBranch, uncommittedResult } from "./step-git.js";
import type { BranchSync } from "./task-branch-sync.js";
import type { DiscardResult } from "./task-reset.js";
import type { TaskWorktree } from "./task-worktree.js";
import { createStepTools } from "./tools.js";
import { fileTranscriptStore } from "./transcripts.js";

/** How a step ended: its result for `step.completed`, or why it failed for `step.failed`. */
export type StepOutcome =
  | { ok: true; result: StepResult }
  | { ok: false; error: string; criteria?: CriterionResult[]; usage?: Usage };

/** What one step attempt runs with. */
export interface StepRun {
  bus: Bus;
  brain: Brain;
  work: StepWork;
  /** The step's own worktree (`step-worktree.ts`), or the task's (`task-worktree.ts`) for uncommitted work. */
  wt: TaskWorktree;
  env: StepEnvironment;
  events: StepEvents;
  tools: ToolSettings;
  /** Transcripts live at `<workspaceDir>/.transcripts/`, beside the worktrees. */
  workspaceDir: string;
  /** MLLEAD_OFFLINE_COMMIT (see `commitsStep`). */
  offlineCommit: boolean;
  /** The task's shared branch, when `wt` is the step's own worktree: its commit joins the branch there. */
  sync?: BranchSync;
  log: Logger;
}

/** An error's message for the thread: secrets scrubbed, at most 2,000 characters. */
export function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.message}` : String(err);
  return scrubSecrets(text).slice(0, 2000) || "unknown error";
}

/**
 * Runs the brain on the step in its task's worktree and judges what it returned: a result that does not
 * parse, a failed status or an unmet criterion is a failure; otherwise the work is committed (or, for the
 * code reviewer, discarded) and, once approved, the branch pushed. Retryable errors (NATS down, shutdown,
 * Claude unreachable) are thrown for redelivery; any other error is the step's failure.
 */
export async function runStepOutcome(run: StepRun): Promise<StepOutcome> {
  const { brain, work, wt, env, log } = run;
  try {
    const transcript = fileTranscriptStore(run.workspaceDir, work, log);
    const stepTools = createStepTools({ bus: run.bus, wt, env, work, log, settings: run.tools, transcript, events: run.events });
    // The offline demo on a team's repository commits nothing (see commitsStep): its work stays in the worktree,
    // a review's included (discarding it would take the earlier steps' uncommitted work with it).
    const commits = commitsStep(work, brain, env.source, run.offlineCommit);
    // The code reviewer changes nothing: whatever its commands changed is discarded (`review`), never committed.
    const { raw, review } = commits
      ? await runStepOnBranch(work, wt, log, () => brain.runStep(work, stepTools))
      : { raw: await brain.runStep(work, stepTools), review: undefined };
    const parsed = StepResult.safeParse(raw);
    if (!parsed.success) {
      return {
        ok: false,
        error: `the ${brain.kind} brain returned an invalid step result (${formatIssues(parsed.error, { max: 3 })})`,
      };
    }
    return await judgedOutcome(run, withSandboxWarning(parsed.data, env), commits, review);
  } catch (err) {
    if (isRetryable(err)) throw err;
    log.warn({ err }, "step failed");
    // A loop that ended without FinishStep still spent tokens: they count towards the task's cost.
    const spent = err instanceof StepLoopError ? err.usage : undefined;
    return { ok: false, error: errorText(err), ...(spent ? { usage: spent } : {}) };
  }
}

/** The step's result recorded on its branch, then held against the step's criteria. */
async function judgedOutcome(
  run: StepRun,
  plain: StepResult,
  commits: boolean,
  review: DiscardResult | undefined,
): Promise<StepOutcome> {
  const { work, wt, env, log } = run;
  const result = !commits
    ? await uncommittedResult(wt, plain, log)
    : review
      ? reviewedResult(wt, plain, review)
      : await committedResult(work, wt, plain, log, run.sync);
  // A review that gave its verdict is reported whole: the tech lead sends its findings (and any unmet
  // criterion) to a fix round, which a failed step would lose.
  const unmet = result.verdict && work.role === "code-reviewer" ? [] : unmetCriteria(work.step, result);
  if (result.status === "failed" || unmet.length > 0) {
    // "Never mark a task complete without proving it works": the step fails, and the tech lead re-plans.
    const why = unmet.length > 0 ? describeUnmet(unmet) : errorText(result.summary);
    return { ok: false, error: why, criteria: result.criteria, ...(result.usage ? { usage: result.usage } : {}) };
  }
  const remote = commits ? env.settings.pushRemote : undefined;
  return { ok: true, result: await pushedResult(work, wt, result, log, remote, review?.head) };
}

/** The process sandbox's warning goes on every result it touched, so the thread says it. */
function withSandboxWarning(result: StepResult, env: StepEnvironment): StepResult {
  const w = env.sandbox.warning;
  if (!w) return result;
  return { ...result, warnings: [...(result.warnings ?? []), w.slice(0, 500)].slice(0, 10) };
}

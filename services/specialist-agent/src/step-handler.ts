import type { Brain } from "@mllead/brain";
import { type Bus, type MessageContext, PoisonMessageError } from "@mllead/bus";
import { CONSUMERS, type StepWork, SUBJECTS } from "@mllead/contracts";
import { ShuttingDownError } from "@mllead/service-kit";
import type { Logger } from "pino";
import type { TaskBranchStore } from "./branch-store.js";
import type { WorkCheck } from "./dispatched-work.js";
import { infra, isRetryable, StepBusyError } from "./errors.js";
import type { SpecialistSettings, ToolSettings } from "./settings.js";
import type { StepEnvironment } from "./step-env.js";
import { type StepEvents, stepEvents } from "./step-events.js";
import { commitsStep } from "./step-git.js";
import type { StepMetrics } from "./step-metrics.js";
import { errorText, runStepOutcome, type StepOutcome } from "./step-outcome.js";
import { openStepWorktree, removeStepWorktree } from "./step-worktree.js";
import { type BranchSync, syncTaskBranch } from "./task-branch-sync.js";
import { layOutTaskFiles } from "./task-files.js";
import { openTaskWorktree, type TaskWorktree } from "./task-worktree.js";

/** What the step handler is built from. */
export interface StepHandlerDeps {
  bus: Bus;
  brain: Brain;
  settings: SpecialistSettings;
  /** The tools' settings, the shutdown signal added to the GPU wait. */
  tools: ToolSettings;
  checkWork: WorkCheck;
  /** The repository and sandbox, opened once per process (and again after a failed open). */
  environment: () => Promise<StepEnvironment>;
  /** The shared record and bundles of task branches, opened once per process. */
  branches: () => Promise<TaskBranchStore>;
  metrics: StepMetrics;
}

/** Handles one step work message (see `createStepHandler`). */
export type StepHandler = (work: StepWork, ctx: MessageContext) => Promise<void>;

/**
 * The worktree and environment of a step, or why they could not be opened. `sync` is there when the step has
 * its own worktree whose commit joins the task's shared branch (every committed step).
 */
type Setup = { wt: TaskWorktree; env: StepEnvironment; sync?: BranchSync } | { error: string; env?: StepEnvironment };

/**
 * The step handler. Per message: refuse a step on another role's subject (poison) or one the tech lead
 * did not dispatch; skip it if this attempt already finished; emit `step.started`; run the brain with the
 * tools in the task's worktree; emit `step.completed` (validated result) or `step.failed` (brain error,
 * failed work, invalid result). Retryable errors (NATS down, shutdown, a duplicate in hand) are thrown so
 * JetStream redelivers; on the last delivery the step fails instead, so the tech lead hears of it.
 */
export function createStepHandler(deps: StepHandlerDeps): StepHandler {
  const running = new Set<string>();
  return async (work, ctx) => {
    const log = ctx.log.child({ taskId: work.taskId, stepId: work.stepId, role: work.role, attempt: work.attempt });
    if (ctx.subject !== SUBJECTS.stepWork(work.role)) {
      throw new PoisonMessageError(`a ${work.role} step arrived on '${ctx.subject}'`);
    }
    const events = stepEvents(deps.bus, work);
    if (!(await shouldRun(deps, work, events, ctx, log))) return;
    const key = `${work.taskId}:${work.stepId}:${work.attempt}`;
    if (running.has(key)) throw new StepBusyError(`step ${key} is already running here`);
    running.add(key);
    const endTimer = deps.metrics.duration.startTimer({ role: work.role });
    try {
      const outcome = await runStep(deps, work, events, log);
      // The step's commit is on the task's branch: its worktree goes before the thread hears it is done. A crash
      // before the report reruns the step from the branch's head, where its commit is found again (no second one).
      if (outcome.stepWorktree) await removeStepWorktree(outcome.stepWorktree, log, deps.settings.workspaceDir);
      await report(events, outcome.outcome, log);
      deps.metrics.steps.inc({ role: work.role, outcome: outcome.outcome.ok ? "completed" : "failed" });
    } catch (err) {
      // On the last delivery JetStream gives up silently; tell the tech lead instead, if NATS lets us.
      const lastTry = ctx.deliveryCount >= CONSUMERS.step(work.role).maxDeliver;
      if (lastTry && isRetryable(err) && !(err instanceof ShuttingDownError)) {
        await events.failed(`gave up after ${ctx.deliveryCount} deliveries: ${errorText(err)}`);
        deps.metrics.steps.inc({ role: work.role, outcome: "failed" });
        return;
      }
      deps.metrics.steps.inc({ role: work.role, outcome: "retried" });
      throw err;
    } finally {
      running.delete(key);
      endTimer();
    }
  };
}

/** False (and counted) for a step the tech lead did not dispatch, or an attempt that already finished. */
async function shouldRun(
  deps: StepHandlerDeps,
  work: StepWork,
  events: StepEvents,
  ctx: MessageContext,
  log: Logger,
): Promise<boolean> {
  // Anyone who can publish on the queue could send a step; only what the tech lead dispatched runs.
  const refused = await infra("checking the step against its task", () => deps.checkWork(work));
  if (refused) {
    log.warn({ reason: refused, delivery: ctx.deliveryCount }, "refused a step the tech lead did not dispatch");
    deps.metrics.steps.inc({ role: work.role, outcome: "refused" });
    return false;
  }
  const finished = await events.alreadyFinished();
  if (finished) {
    log.info({ finished, delivery: ctx.deliveryCount }, "step attempt already finished; not running it again");
    deps.metrics.steps.inc({ role: work.role, outcome: "duplicate" });
    return false;
  }
  return true;
}

/**
 * Opens the step's worktree, reports the start, and runs the step there (or fails it when nothing opened).
 * Returns the outcome, and the step's own worktree to remove before the outcome is reported.
 */
async function runStep(
  deps: StepHandlerDeps,
  work: StepWork,
  events: StepEvents,
  log: Logger,
): Promise<{ outcome: StepOutcome; stepWorktree?: TaskWorktree }> {
  const setup = await openSetup(deps, work, log);
  const env = setup.env;
  const wt = "wt" in setup ? setup.wt : undefined;
  await events.started({
    ...(wt ? { branch: wt.taskBranch } : {}),
    ...(env ? { sandbox: env.sandbox.kind } : {}),
    ...(env?.sandbox.warning ? { warning: env.sandbox.warning } : {}),
  });
  log.info({ branch: wt?.taskBranch, worktree: wt?.root }, "step started");
  if ("error" in setup) return { outcome: { ok: false, error: setup.error } };
  const outcome = await runStepOutcome({
    bus: deps.bus,
    brain: deps.brain,
    work,
    wt: setup.wt,
    env: setup.env,
    events,
    tools: deps.tools,
    workspaceDir: deps.settings.workspaceDir,
    offlineCommit: deps.settings.offlineCommit ?? false,
    ...(setup.sync ? { sync: setup.sync } : {}),
    log,
  });
  return setup.sync ? { outcome, stepWorktree: setup.wt } : { outcome };
}

/** The environment and the task's worktree; a failure to open them (not a retryable one) is the step's failure. */
async function openSetup(deps: StepHandlerDeps, work: StepWork, log: Logger): Promise<Setup> {
  let env: StepEnvironment | undefined;
  try {
    env = await deps.environment();
    const where = { workspaceDir: deps.settings.workspaceDir, taskId: work.taskId };
    if (commitsStep(work, deps.brain, env.source, deps.settings.offlineCommit ?? false)) {
      // The task's branch as the replicas recorded it, fetched here; the step works on its own branch from its head.
      const files = deps.settings.taskFiles;
      const sync = { source: env.source, store: await deps.branches(), taskId: work.taskId, log, ...(files ? { files } : {}) };
      const start = await syncTaskBranch(sync);
      const wt = await openStepWorktree(env.source, { ...where, stepId: work.stepId }, start);
      // What earlier steps left uncommitted (ignored data, models) comes with the head, on any replica.
      await layOutTaskFiles(sync, wt, start.record);
      log.info({ head: start.head, worktree: wt.root }, "step worktree opened on the task's head");
      return { wt, env, sync };
    }
    // Uncommitted work (the offline demo on a team's repository) stays in one task worktree on this host.
    return { wt: await openTaskWorktree(env.source, where), env };
  } catch (err) {
    if (isRetryable(err)) throw err;
    log.warn({ err }, "could not open the task's worktree");
    const error = `could not open the task's worktree in the team's repository: ${errorText(err)}`;
    return env ? { error, env } : { error };
  }
}

/** Emits the outcome: `step.completed` with the result, or `step.failed` with why. */
async function report(events: StepEvents, outcome: StepOutcome, log: Logger): Promise<void> {
  if (outcome.ok) {
    await events.completed(outcome.result);
    log.info("step completed");
    return;
  }
  await events.failed(outcome.error, outcome.criteria, outcome.usage);
  log.info({ error: outcome.error }, "step failed");
}

import { type Brain, StepLoopError } from "@mllead/brain";
import { type Bus, type Consumption, type MessageContext, PoisonMessageError } from "@mllead/bus";
import {
  CONSUMERS,
  type CriterionResult,
  describeUnmet,
  StepResult,
  StepWork,
  SUBJECTS,
  type Usage,
  unmetCriteria,
} from "@mllead/contracts";
import { scrubSecrets } from "@mllead/service-kit";
import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import type { SpecialistSettings } from "./config.js";
import { recordedWorkCheck, type WorkCheck } from "./dispatched-work.js";
import { infra, isRetryable, ShuttingDownError, StepBusyError } from "./errors.js";
import { serveScout } from "./scout.js";
import { openStepEnvironment, type StepEnvironment } from "./step-env.js";
import { commitsStep, committedResult, pushedResult, reviewedResult, runStepOnBranch, uncommittedResult } from "./step-git.js";
import { openTaskWorktree, type TaskWorktree } from "./task-worktree.js";
import { createStepTools } from "./tools.js";
import { fileTranscriptStore } from "./transcripts.js";
import { Workspace } from "./workspace.js";

/** What the specialist app is built from; tests pass a real bus and their own brain. */
export interface AppDeps {
  bus: Bus;
  brain: Brain;
  settings: SpecialistSettings;
  log: Logger;
  /** Metrics land here when given. */
  registry?: Registry;
  /** Aborted when shutdown begins: long GPU waits stop and their step is redelivered. */
  shuttingDown?: AbortSignal;
  /** The repository and sandbox; opened from `settings` on the first step when not given. */
  environment?: StepEnvironment;
  /**
   * Whether a work message is one the tech lead dispatched. Default `recordedWorkCheck(bus)`: it must
   * agree with the task's record. Tests that run specialists without a tech lead pass `acceptAnyWork`.
   */
  checkWork?: WorkCheck;
}

/** The running consumers. `stop()` takes no new steps and lets the ones in hand finish. */
export interface RunningSpecialists {
  stop(): Promise<void>;
  readiness: Record<string, () => boolean>;
}

/** The specialist service without a process: a step handler, and `start()` to consume every role's queue. */
export interface SpecialistApp {
  handleStep(work: StepWork, ctx: MessageContext): Promise<void>;
  start(): Promise<RunningSpecialists>;
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.message}` : String(err);
  return scrubSecrets(text).slice(0, 2000) || "unknown error";
}

/** Builds the specialist app. See `handleStep` for the per-step protocol. */
export function buildApp(deps: AppDeps): SpecialistApp {
  const { bus, brain, settings } = deps;
  const checkWork = deps.checkWork ?? recordedWorkCheck(bus);
  const tools = {
    ...settings.tools,
    gpuWait: { ...settings.tools.gpuWait, ...(deps.shuttingDown ? { signal: deps.shuttingDown } : {}) },
  };
  const running = new Set<string>();
  const steps = new Counter({
    name: "mllead_steps_total",
    help: "Steps handled, by role and outcome",
    labelNames: ["role", "outcome"] as const,
    registers: deps.registry ? [deps.registry] : [],
  });
  const duration = new Histogram({
    name: "mllead_step_duration_seconds",
    help: "Time to run a step, by role",
    labelNames: ["role"] as const,
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
    registers: deps.registry ? [deps.registry] : [],
  });

  /** True when this attempt (or a later one) already completed or failed: a redelivery must not run it again. */
  async function alreadyFinished(work: StepWork): Promise<"step.completed" | "step.failed" | null> {
    for (const type of ["step.completed", "step.failed"] as const) {
      const last = await infra("looking up the step", () =>
        bus.lastEvent(SUBJECTS.event({ type, taskId: work.taskId, stepId: work.stepId })),
      );
      if (last && "attempt" in last && last.attempt >= work.attempt) return type;
    }
    return null;
  }

  const stepBase = (work: StepWork) => ({
    v: 1 as const,
    taskId: work.taskId,
    stepId: work.stepId,
    role: work.role,
    attempt: work.attempt,
    at: new Date().toISOString(),
  });
  const idOf = (type: string, work: StepWork) => `${type}:${work.taskId}:${work.stepId}:${work.attempt}`;

  async function emitFailed(work: StepWork, error: string, criteria?: CriterionResult[], usage?: Usage): Promise<void> {
    await infra("reporting the step failure", () =>
      bus.emit({
        ...stepBase(work),
        type: "step.failed",
        eventId: idOf("step.failed", work),
        title: work.step.title,
        error,
        ...(criteria?.length ? { criteria } : {}),
        ...(usage ? { usage } : {}),
      }),
    );
  }

  let environment: Promise<StepEnvironment> | undefined = deps.environment ? Promise.resolve(deps.environment) : undefined;
  /** The repository and sandbox, opened once; a failed open is tried again on the next step. */
  function stepEnvironment(): Promise<StepEnvironment> {
    environment ??= openStepEnvironment(settings, deps.log).catch((err) => {
      environment = undefined;
      throw err;
    });
    return environment;
  }

  /**
   * One step: skip it if this attempt already finished; emit `step.started`; run
   * the brain with the tools; emit `step.completed` (validated result) or
   * `step.failed` (brain error, failed work, invalid result). Retryable errors
   * (NATS down, shutdown, a duplicate in hand) are thrown so JetStream redelivers.
   */
  async function handleStep(work: StepWork, ctx: MessageContext): Promise<void> {
    const log = ctx.log.child({ taskId: work.taskId, stepId: work.stepId, role: work.role, attempt: work.attempt });
    if (ctx.subject !== SUBJECTS.stepWork(work.role)) {
      throw new PoisonMessageError(`a ${work.role} step arrived on '${ctx.subject}'`);
    }
    // Anyone who can publish on the queue could send a step; only what the tech lead dispatched runs.
    const refused = await infra("checking the step against its task", () => checkWork(work));
    if (refused) {
      log.warn({ reason: refused, delivery: ctx.deliveryCount }, "refused a step the tech lead did not dispatch");
      steps.inc({ role: work.role, outcome: "refused" });
      return;
    }
    const finished = await alreadyFinished(work);
    if (finished) {
      log.info({ finished, delivery: ctx.deliveryCount }, "step attempt already finished; not running it again");
      steps.inc({ role: work.role, outcome: "duplicate" });
      return;
    }
    const key = `${work.taskId}:${work.stepId}:${work.attempt}`;
    if (running.has(key)) throw new StepBusyError(`step ${key} is already running here`);
    running.add(key);
    const endTimer = duration.startTimer({ role: work.role });
    try {
      let wt: TaskWorktree | undefined;
      let env: StepEnvironment | undefined;
      let setupError: string | undefined;
      try {
        env = await stepEnvironment();
        wt = await openTaskWorktree(env.source, { workspaceDir: settings.workspaceDir, taskId: work.taskId });
      } catch (err) {
        if (isRetryable(err)) throw err;
        log.warn({ err }, "could not open the task's worktree");
        setupError = `could not open the task's worktree in the team's repository: ${errorText(err)}`;
      }
      await infra("reporting the step start", () =>
        bus.emit({
          ...stepBase(work),
          type: "step.started",
          eventId: idOf("step.started", work),
          title: work.step.title,
          ...(wt ? { branch: wt.branch } : {}),
          ...(env ? { sandbox: env.sandbox.kind } : {}),
          ...(env?.sandbox.warning ? { warning: env.sandbox.warning.slice(0, 500) } : {}),
          ...(work.findings.length > 0 ? { fixing: work.findings.length } : {}),
        }),
      );
      log.info({ branch: wt?.branch }, "step started");
      let outcome: { ok: true; result: StepResult } | { ok: false; error: string; criteria?: CriterionResult[]; usage?: Usage };
      if (!wt || !env) {
        outcome = { ok: false, error: setupError ?? "the task's worktree is not available" };
      } else {
        try {
          const ws = await Workspace.open(settings.workspaceDir, work.taskId);
          const transcript = fileTranscriptStore(settings.workspaceDir, work, log);
          const stepTools = createStepTools({ bus, ws, wt, env, work, log, settings: tools, transcript });
          // The offline demo on a team's repository commits nothing (see commitsStep): its work stays in the worktree,
          // a review's included (discarding it would take the earlier steps' uncommitted work with it).
          const commits = commitsStep(work, brain, env.source, settings.offlineCommit ?? false);
          // The code reviewer changes nothing: whatever its commands changed is discarded (`review`), never committed.
          const { raw, review } = commits
            ? await runStepOnBranch(work, wt, log, () => brain.runStep(work, stepTools))
            : { raw: await brain.runStep(work, stepTools), review: undefined };
          const parsed = StepResult.safeParse(raw);
          if (!parsed.success) {
            const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`);
            outcome = { ok: false, error: `the ${brain.kind} brain returned an invalid step result (${issues.join("; ")})` };
          } else {
            const plain = withSandboxWarning(parsed.data, env);
            const result = !commits
              ? await uncommittedResult(wt, plain, log)
              : review
                ? reviewedResult(wt, plain, review)
                : await committedResult(work, wt, plain, log);
            // A review that gave its verdict is reported whole: the tech lead sends its findings (and any unmet
            // criterion) to a fix round, which a failed step would lose.
            const unmet = result.verdict && work.role === "code-reviewer" ? [] : unmetCriteria(work.step, result);
            if (result.status === "failed" || unmet.length > 0) {
              // "Never mark a task complete without proving it works": the step fails, and the tech lead re-plans.
              const why = unmet.length > 0 ? describeUnmet(unmet) : errorText(result.summary);
              outcome = { ok: false, error: why, criteria: result.criteria, ...(result.usage ? { usage: result.usage } : {}) };
            } else {
              const remote = commits ? env.settings.pushRemote : undefined;
              outcome = { ok: true, result: await pushedResult(work, wt, result, log, remote, review?.head) };
            }
          }
        } catch (err) {
          if (isRetryable(err)) throw err;
          log.warn({ err }, "step failed");
          // A loop that ended without FinishStep still spent tokens: they count towards the task's cost.
          const spent = err instanceof StepLoopError ? err.usage : undefined;
          outcome = { ok: false, error: errorText(err), ...(spent ? { usage: spent } : {}) };
        }
      }
      if (outcome.ok) {
        const result = outcome.result;
        await infra("reporting the step result", () =>
          bus.emit({
            ...stepBase(work),
            type: "step.completed",
            eventId: idOf("step.completed", work),
            title: work.step.title,
            result,
          }),
        );
        log.info("step completed");
      } else {
        await emitFailed(work, outcome.error, outcome.criteria, outcome.usage);
        log.info({ error: outcome.error }, "step failed");
      }
      steps.inc({ role: work.role, outcome: outcome.ok ? "completed" : "failed" });
    } catch (err) {
      // On the last delivery JetStream gives up silently; tell the tech lead instead, if NATS lets us.
      const lastTry = ctx.deliveryCount >= CONSUMERS.step(work.role).maxDeliver;
      if (lastTry && isRetryable(err) && !(err instanceof ShuttingDownError)) {
        await emitFailed(work, `gave up after ${ctx.deliveryCount} deliveries: ${errorText(err)}`);
        steps.inc({ role: work.role, outcome: "failed" });
        return;
      }
      steps.inc({ role: work.role, outcome: "retried" });
      throw err;
    } finally {
      running.delete(key);
      endTimer();
    }
  }

  async function start(): Promise<RunningSpecialists> {
    // The tech lead's question before it plans: what the team's repository holds (read only, from its base commit).
    await serveScout(bus, {
      source: async () => (await stepEnvironment()).source,
      // MLLEAD_PYTHON_ENV as checked at start (else the system python3), not a second reading of the host.
      python: async () => (await stepEnvironment()).python,
      dataDirs: settings.dataDirs ?? [],
      bus,
      log: deps.log,
    });
    const consumptions: Consumption[] = [];
    for (const role of settings.roles) {
      consumptions.push(
        await bus.consume(CONSUMERS.step(role), StepWork, (work, ctx) => handleStep(work, ctx), {
          concurrency: settings.concurrency,
        }),
      );
      deps.log.info({ role, concurrency: settings.concurrency }, "taking steps");
    }
    let stopped = false;
    return {
      readiness: { consumers: () => !stopped && consumptions.length === settings.roles.length },
      stop: async () => {
        stopped = true;
        await Promise.all(consumptions.map((c) => c.stop()));
      },
    };
  }

  return { handleStep, start };
}

/** The process sandbox's warning goes on every result it touched, so the thread says it. */
function withSandboxWarning(result: StepResult, env: StepEnvironment): StepResult {
  const w = env.sandbox.warning;
  if (!w) return result;
  return { ...result, warnings: [...(result.warnings ?? []), w.slice(0, 500)].slice(0, 10) };
}

import { type Brain, brainFromConfig, brainKind } from "@mllead/brain";
import type { Bus, Consumption, MessageContext } from "@mllead/bus";
import { CONSUMERS, StepWork } from "@mllead/contracts";
import type { BaseConfig, RunningService, ServiceContext } from "@mllead/service-kit";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { TaskBranchStore } from "./branch-store.js";
import { type SpecialistEnv, settingsFromEnv } from "./config.js";
import { recordedWorkCheck, type WorkCheck } from "./dispatched-work.js";
import { serveScout } from "./scout.js";
import type { SpecialistSettings } from "./settings.js";
import { openStepEnvironment, type StepEnvironment } from "./step-env.js";
import { createStepHandler } from "./step-handler.js";
import { createStepMetrics } from "./step-metrics.js";

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
export interface RunningSpecialists extends RunningService {
  readiness: Record<string, () => boolean>;
}

/** The specialist service without a process: a step handler, and `start()` to consume every role's queue. */
export interface SpecialistApp {
  handleStep(work: StepWork, ctx: MessageContext): Promise<void>;
  start(): Promise<RunningSpecialists>;
}

/**
 * The specialist service in a process (main's `create`): the brain from the config, the settings from the
 * environment, and the team's repository and the sandbox opened before any step is taken, so a bad
 * MLLEAD_REPO, or MLLEAD_SANDBOX=bubblewrap where bwrap cannot run, stops the service at start with the reason.
 */
export async function createSpecialist(ctx: ServiceContext<SpecialistEnv & BaseConfig>): Promise<RunningSpecialists> {
  const { config, log } = ctx;
  const brain = await brainFromConfig(config, log);
  log.info({ brain: brainKind(config), roles: config.MLLEAD_ROLES }, "specialists starting");
  // Commands get only PATH, HOME, TMPDIR, LANG, LC_* and the MLLEAD_SANDBOX_ENV names of this environment.
  const settings = settingsFromEnv(config, ctx.env);
  const environment = await openStepEnvironment(settings, log);
  const deps = { bus: ctx.bus, brain, settings, log, registry: ctx.registry, shuttingDown: ctx.shuttingDown, environment };
  return buildApp(deps).start();
}

/** Builds the specialist app: the step handler (see `createStepHandler`) and the scout, on `deps.bus`. */
export function buildApp(deps: AppDeps): SpecialistApp {
  const { bus, settings } = deps;
  const environment = environmentOpener(deps);
  const handleStep = createStepHandler({
    bus,
    brain: deps.brain,
    settings,
    tools: {
      ...settings.tools,
      gpuWait: { ...settings.tools.gpuWait, ...(deps.shuttingDown ? { signal: deps.shuttingDown } : {}) },
    },
    checkWork: deps.checkWork ?? recordedWorkCheck(bus),
    environment,
    branches: once(() => TaskBranchStore.open(bus)),
    metrics: createStepMetrics(deps.registry),
  });

  async function start(): Promise<RunningSpecialists> {
    // The tech lead's question before it plans: what the team's repository holds (read only, from its base commit).
    await serveScout(bus, {
      source: async () => (await environment()).source,
      // MLLEAD_PYTHON_ENV as checked at start (else the system python3), not a second reading of the host.
      python: async () => (await environment()).python,
      dataDirs: settings.dataDirs ?? [],
      bus,
      log: deps.log,
    });
    const consumptions: Consumption[] = [];
    for (const role of settings.roles) {
      const consumer = CONSUMERS.step(role);
      consumptions.push(await bus.consume(consumer, StepWork, handleStep, { concurrency: settings.concurrency }));
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

/** `open()`'s result, made on the first call; a failed open is tried again on the next. */
function once<T>(open: () => Promise<T>): () => Promise<T> {
  let opened: Promise<T> | undefined;
  return () => {
    opened ??= open().catch((err: unknown) => {
      opened = undefined;
      throw err;
    });
    return opened;
  };
}

/** The repository and sandbox, opened once (`deps.environment` when given); a failed open is tried again on the next step. */
function environmentOpener(deps: AppDeps): () => Promise<StepEnvironment> {
  let opened: Promise<StepEnvironment> | undefined = deps.environment ? Promise.resolve(deps.environment) : undefined;
  return () => {
    opened ??= openStepEnvironment(deps.settings, deps.log).catch((err: unknown) => {
      opened = undefined;
      throw err;
    });
    return opened;
  };
}

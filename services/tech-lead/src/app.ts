import { type Brain, brainFromConfig, brainKind } from "@mllead/brain";
import type { Bus, ConsumeOptions, ConsumerSpec, SetAsideMessage } from "@mllead/bus";
import { CONSUMERS, SUBJECTS, TaskEvent } from "@mllead/contracts";
import { type BaseConfig, KeyedQueue, type RunningService, type ServiceContext } from "@mllead/service-kit";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { z } from "zod";
import { commandHandler } from "./command-handler.js";
import type { TechLeadConfig } from "./config.js";
import { serveDeadLetters } from "./dead-letters.js";
import { DEFAULT_LEAD_RETRY, type LeadRetryPolicy } from "./lead-failures.js";
import { Lessons } from "./lessons.js";
import { techLeadMetrics } from "./metrics.js";
import type { Policy } from "./orchestrator.js";
import { planWriter } from "./plan-writer.js";
import { serveQueries } from "./query-server.js";
import { RetryTimers } from "./retry-timers.js";
import { DEFAULT_SCOUT_TIMEOUT_MS, scoutContext } from "./scout-context.js";
import { threadTeller } from "./set-aside.js";
import { stepHandler } from "./step-handler.js";
import { summaryWriter } from "./summary-writer.js";
import { TaskDriver } from "./task-driver.js";
import { TaskStore } from "./task-store.js";
import { countedUpdate } from "./task-update.js";

/** What the tech lead is built from. */
export interface TechLeadDeps {
  bus: Bus;
  brain: Brain;
  policy: Policy;
  log: Logger;
  /** Where the tech lead's Prometheus metrics go (none when omitted). */
  registry?: Registry;
  /** Clock, injectable for tests. */
  now?: () => string;
  /** Commands and step reports handled at once; each task's stay one at a time, in order. Default 32. */
  concurrency?: number;
  /** Deliveries after which a message that keeps failing is set aside. Default 5. */
  setAsideAfter?: number;
  /** Delay before a failed message is redelivered, by delivery count (the bus's backoff when omitted). */
  backoffMs?: (deliveryCount: number) => number;
  /** How a plan or summary that met an overloaded Claude API is retried by itself (DEFAULT_LEAD_RETRY when omitted). */
  leadRetry?: Partial<LeadRetryPolicy>;
  /** How long a plan waits for the scout's report of the repository before it is written without (ms, default 15 s). */
  scoutTimeoutMs?: number;
}

/**
 * The tech lead's durable consumers for a concurrency: above 1 they allow many messages in
 * hand at once; at 1 they hand out one at a time across all replicas (strict order, as before).
 */
export function techLeadConsumers(concurrency: number): ConsumerSpec[] {
  return [CONSUMERS.techLeadCommands, CONSUMERS.techLeadResults].map((c) =>
    concurrency === 1 ? { ...c, maxAckPending: 1 } : { ...c },
  );
}

/**
 * How the tech lead reads `spec`: `concurrency` messages in hand at once, the redelivery backoff, and a
 * message that keeps failing set aside after `setAsideAfter` deliveries (default 5) and told in its thread.
 */
function consumeOptions(
  spec: ConsumerSpec,
  deps: Pick<TechLeadDeps, "backoffMs" | "setAsideAfter"> & { concurrency: number },
  onSetAside: (letter: SetAsideMessage, log: Logger) => Promise<void>,
): ConsumeOptions {
  return {
    concurrency: deps.concurrency,
    ...(deps.backoffMs ? { backoffMs: deps.backoffMs } : {}),
    deadLetter: { subject: SUBJECTS.deadLetter(spec.durable), maxDeliveries: deps.setAsideAfter ?? 5, onSetAside },
  };
}

/** A built tech lead, not yet consuming: `start` begins, `stop` finishes the work in hand. */
export interface TechLead extends RunningService {
  start(): Promise<void>;
  /** Plans or summarises whatever a task is waiting for (also used to resume after a crash). */
  drive(taskId: string): Promise<void>;
  store: TaskStore;
}

/**
 * Builds the tech lead — the planner and orchestrator, sole writer of task state — from its parts: the
 * task store, the plan and summary writers, the driver that moves tasks on, the command and step
 * handlers, the status/lessons query server and the dead-letter desk. Every task's work runs in one keyed queue, so a task's
 * messages, retries and recovery apply one at a time, in order, while different tasks run at once.
 */
export async function buildTechLead(deps: TechLeadDeps): Promise<TechLead> {
  const { bus, brain, policy, log } = deps;
  const now = deps.now ?? (() => new Date().toISOString());
  const concurrency = deps.concurrency ?? 32;
  const metrics = techLeadMetrics(deps.registry);
  // The store tells a quarantined task's thread through the teller, which writes through the store.
  const store = await TaskStore.open(bus, log, {
    onQuarantine: async (q) => {
      metrics.quarantined.inc();
      await tell.quarantined(q);
    },
  });
  const tell = threadTeller({ bus, store, log, now });
  const lessons = await Lessons.open(bus, brain, log, now);
  const update = countedUpdate(store, metrics);
  const queue = new KeyedQueue();
  // A scheduled automatic retry runs in its task's queue, like everything else about the task.
  const retries = new RetryTimers((id) => void driver.resume(id, "could not retry a Claude call"));
  const leadRetry = { ...DEFAULT_LEAD_RETRY, ...deps.leadRetry };
  const scoutTimeoutMs = deps.scoutTimeoutMs ?? DEFAULT_SCOUT_TIMEOUT_MS;
  const driver = new TaskDriver({
    store,
    queue,
    retries,
    now,
    log,
    writePlan: planWriter({
      brain,
      scout: (taskId, l) => scoutContext(bus, taskId, scoutTimeoutMs, l),
      lessons,
      update,
      retries,
      planSeconds: metrics.planSeconds,
      leadRetry,
      now,
      log,
    }),
    writeSummary: summaryWriter({ brain, update, retries, leadRetry, now, log }),
  });
  const drive = (taskId: string) => driver.drive(taskId);
  const onCommand = commandHandler({ queue, store, update, lessons, policy, drive, now });
  const onStepEvent = stepHandler({ queue, update, lessons, policy, drive, now });

  const onSetAside = async (letter: SetAsideMessage, l: Logger) => {
    metrics.setAside.inc({ consumer: letter.consumer, code: letter.code });
    await tell.setAside(letter, l);
  };
  const consuming = (spec: ConsumerSpec) => consumeOptions(spec, { ...deps, concurrency }, onSetAside);
  const consumptions: { stop(): Promise<void> }[] = [];
  let recovering: Promise<void> = Promise.resolve();

  return {
    store,
    drive,
    async start() {
      // What was written but not sent goes out first; interrupted plans and summaries resume in the background.
      recovering = (await driver.recover(concurrency)).resumed;
      await serveQueries({ bus, store, lessons, log });
      await serveDeadLetters({ bus, approvers: policy.approvers, log });
      const { techLeadCommands: commands, techLeadResults: results } = CONSUMERS;
      consumptions.push(await bus.consume(commands, z.unknown(), onCommand, consuming(commands)));
      consumptions.push(await bus.consume(results, TaskEvent, onStepEvent, consuming(results)));
    },
    async stop() {
      retries.stop();
      await Promise.all(consumptions.map((c) => c.stop()));
      await recovering;
      // A retry armed by work that finished while stopping is cleared too.
      retries.stop();
    },
  };
}

/**
 * The tech lead as a service (`runService({ create: (ctx) => createTechLead(ctx) })`): the brain from
 * the configuration, the rules from MLLEAD_* settings; it starts consuming before it returns.
 */
export async function createTechLead(ctx: ServiceContext<TechLeadConfig & BaseConfig>): Promise<RunningService> {
  const { config, bus, log, registry } = ctx;
  const brain = await brainFromConfig(config, log);
  log.info(
    { brain: brainKind(config) },
    brain.kind === "offline" ? "offline brain: deterministic plans, no Claude key needed" : "Claude brain",
  );
  const lead = await buildTechLead({
    bus,
    brain,
    log,
    registry,
    concurrency: config.MLLEAD_TECH_LEAD_CONCURRENCY,
    setAsideAfter: config.MLLEAD_SET_ASIDE_AFTER,
    policy: {
      approvers: config.MLLEAD_APPROVERS,
      maxReviewRounds: config.MLLEAD_MAX_REVIEW_ROUNDS,
      maxReplans: config.MLLEAD_MAX_REPLANS,
      taskBudgetUsd: config.MLLEAD_TASK_BUDGET_USD,
    },
  });
  await lead.start();
  return { stop: () => lead.stop() };
}

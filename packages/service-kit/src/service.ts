import { hostname } from "node:os";
import { Bus, type ServiceResources } from "@mllead/bus";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { z } from "zod";
import { bestEffort } from "./best-effort.js";
import { BaseConfig, ConfigError, loadConfig, natsCredentials } from "./config.js";
import { consumerLagMetrics } from "./consumer-metrics.js";
import { buildHttpApp, createRegistry } from "./http.js";
import { createLogger } from "./logger.js";
import { startTracing } from "./tracing.js";

/** What `create` builds a service from. */
export interface ServiceContext<C> {
  config: C;
  log: Logger;
  bus: Bus;
  registry: Registry;
  /** The service's Fastify app, before it listens: add routes or hooks here. */
  http: FastifyInstance;
  /** Aborted when shutdown begins; long loops watch it. */
  shuttingDown: AbortSignal;
  /**
   * The environment `config` was parsed from (`process.env` in production). Only for handing an allow-listed
   * part on to a child (a job's or a step's environment); settings come from `config`.
   */
  env: NodeJS.ProcessEnv;
}

/** What a service's `create` hands back: how to stop taking work and finish what is in hand. */
export interface RunningService {
  stop(): Promise<void>;
  /** Extra readiness checks for `/readyz`. */
  readiness?: Record<string, () => boolean | Promise<boolean>>;
}

type Config<S extends z.ZodObject> = z.output<S> & BaseConfig;

interface ServiceShape<S extends z.ZodObject> {
  name: string;
  /** The service's own variables; merged with BaseConfig. */
  config: S;
  /**
   * What the service sets up on NATS before `create`: the streams, buckets and object stores it owns
   * (created), those it uses (waited for until their owner created them) and the durable consumers it reads.
   * Its NATS user (`infra/nats-permissions.conf`) may create nothing else.
   */
  resources: (config: Config<S>) => ServiceResources;
  /** Port variable: services read `PORT` unless they name another (the gateway reads `GATEWAY_PORT`). */
  port?: (config: Config<S>) => number;
}

/**
 * A service: its name, config, NATS resources and `create(ctx)`, which builds the service from its
 * context and starts its work (`create: (ctx) => createRunner(ctx)`).
 */
export interface ServiceDefinition<S extends z.ZodObject> extends ServiceShape<S> {
  create(ctx: ServiceContext<Config<S>>): RunningService | Promise<RunningService>;
}

/** How long shutdown may take before the process exits anyway (ms). */
const SHUTDOWN_DEADLINE_MS = 25_000;

/**
 * Runs a service: config, logger, NATS, provisioning, `create`, the health app, and
 * a graceful shutdown on SIGTERM/SIGINT (stop taking work → finish in-flight → drain).
 * A bad configuration exits 78 (EX_CONFIG); NATS or start-up failures exit 1.
 */
export async function runService<S extends z.ZodObject>(
  def: ServiceDefinition<S>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const { config, credentials } = readConfig(def, env);
  const log = createLogger(def.name, config.LOG_LEVEL);
  // Before the bus: its first publish already carries the trace context.
  const tracing = await startTracing(def.name, config, log);
  const abort = new AbortController();
  const registry = createRegistry(def.name);
  const bus = await connectBus(def, config, credentials, log, abort.signal);
  consumerLagMetrics(registry, bus, def.resources(config).consumers ?? [], log);
  const readiness: Record<string, () => boolean | Promise<boolean>> = { nats: () => bus.isReady() };
  const http = buildHttpApp({ log, registry, checks: { readiness } });
  let running: RunningService;
  try {
    running = await def.create({ config, log, bus, registry, http, shuttingDown: abort.signal, env });
  } catch (err) {
    // A start-up failure (a bad agent file, a missing key) is a message for the operator, then exit.
    log.fatal({ err }, `${def.name} could not start: ${(err as Error).message}`);
    await bestEffort("close NATS after a failed start", log, () => bus.close());
    await bestEffort("export the last traces", log, () => tracing.shutdown());
    process.exit(1);
  }
  Object.assign(readiness, running.readiness ?? {});

  const port = def.port ? def.port(config) : config.PORT;
  const address = await http.listen({ port, host: config.HOST });
  log.info({ address }, `${def.name} ready`);
  // A parent that started us with an IPC channel (the dev runner, the e2e tests) learns it whatever the log level.
  process.send?.({ type: "ready", service: def.name, address });
  stopOnSignals(log, abort, async () => {
    await running.stop();
    await bus.close();
    await http.close();
    // Last: the spans of the work finished above are exported before the process exits.
    await tracing.shutdown();
  });
}

/** Parses the environment; a bad one is a message for the operator and exit 78 (EX_CONFIG). */
function readConfig<S extends z.ZodObject>(
  def: ServiceShape<S>,
  env: NodeJS.ProcessEnv,
): { config: Config<S>; credentials: ReturnType<typeof natsCredentials> } {
  try {
    const config = loadConfig(BaseConfig.extend(def.config.shape), env) as Config<S>;
    return { config, credentials: natsCredentials(config) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${def.name}: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

/** Connects to NATS and sets up the service's resources; either failing exits 1. */
async function connectBus<S extends z.ZodObject>(
  def: ServiceShape<S>,
  config: Config<S>,
  credentials: ReturnType<typeof natsCredentials>,
  log: Logger,
  signal: AbortSignal,
): Promise<Bus> {
  let bus: Bus;
  try {
    bus = await Bus.connect({
      url: config.NATS_URL,
      name: `${def.name}@${hostname()}`,
      log,
      ...(credentials ? { credentials } : {}),
      // The service's NATS user may subscribe to its own replies only (`_INBOX_<service>.>`).
      inboxPrefix: `_INBOX_${def.name}`,
      replicas: config.MLLEAD_STREAM_REPLICAS,
    });
  } catch (err) {
    log.fatal({ err }, `${def.name} could not connect to NATS at ${config.NATS_URL}: ${(err as Error).message}`);
    process.exit(1);
  }
  const resources = def.resources(config);
  const consumers = (resources.consumers ?? []).map((c) =>
    config.MLLEAD_ACK_WAIT_SEC ? { ...c, ackWaitSec: config.MLLEAD_ACK_WAIT_SEC } : c,
  );
  try {
    await bus.setUp({ ...resources, consumers }, { signal });
  } catch (err) {
    log.fatal({ err }, `${def.name} could not set up NATS: ${(err as Error).message}`);
    await bus.close().catch((closeErr: unknown) => log.warn({ err: closeErr }, "NATS connection did not close cleanly"));
    process.exit(1);
  }
  return bus;
}

/** On SIGTERM/SIGINT: abort `shuttingDown`, run `stop` within the deadline, exit 0 (or 1 when it fails). */
function stopOnSignals(log: Logger, abort: AbortController, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: no new work, finishing work in hand");
    abort.abort();
    const deadline = setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    try {
      await stop();
      log.info("stopped");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "error during shutdown");
      process.exit(1);
    }
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection"));
}

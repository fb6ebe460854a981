import { hostname } from "node:os";
import { Bus } from "@mllead/bus";
import type { ServiceResources } from "@mllead/contracts";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { z } from "zod";
import { BaseConfig, ConfigError, loadConfig, natsCredentials } from "./config.js";
import { buildHttpApp, createRegistry } from "./http.js";
import { createLogger } from "./logger.js";

export interface ServiceContext<C> {
  config: C;
  log: Logger;
  bus: Bus;
  registry: Registry;
  /** The service's Fastify app, before it listens: add routes or hooks here. */
  http: FastifyInstance;
  /** Resolves when shutdown begins; long loops watch it. */
  shuttingDown: AbortSignal;
}

/** What a service's start function hands back: how to stop taking work and finish what is in hand. */
export interface RunningService {
  stop(): Promise<void>;
  /** Extra readiness checks for `/readyz`. */
  readiness?: Record<string, () => boolean | Promise<boolean>>;
}

export interface ServiceDefinition<S extends z.ZodObject> {
  name: string;
  /** The service's own variables; merged with BaseConfig. */
  config: S;
  /**
   * What the service sets up on NATS before `start`: the streams, buckets and object stores it owns
   * (created), those it uses (waited for until their owner created them) and the durable consumers it reads.
   * Its NATS user (`infra/nats-permissions.conf`) may create nothing else.
   */
  resources: (config: z.output<S> & BaseConfig) => ServiceResources;
  /** Port variable: services read `PORT` unless they name another (the gateway reads `GATEWAY_PORT`). */
  port?: (config: z.output<S> & BaseConfig) => number;
  start(ctx: ServiceContext<z.output<S> & BaseConfig>): Promise<RunningService>;
}

/** How long shutdown may take before the process exits anyway (ms). */
const SHUTDOWN_DEADLINE_MS = 25_000;

/**
 * Runs a service: config, logger, NATS, provisioning, its work, the health app, and
 * a graceful shutdown on SIGTERM/SIGINT (stop taking work → finish in-flight → drain).
 */
export async function runService<S extends z.ZodObject>(
  def: ServiceDefinition<S>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  let config: z.output<S> & BaseConfig;
  let credentials: ReturnType<typeof natsCredentials>;
  try {
    config = loadConfig(BaseConfig.extend(def.config.shape), env) as z.output<S> & BaseConfig;
    credentials = natsCredentials(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${def.name}: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = createLogger(def.name, config.LOG_LEVEL);
  const abort = new AbortController();
  const registry = createRegistry(def.name);
  let bus: Bus;
  try {
    bus = await Bus.connect({
      url: config.NATS_URL,
      name: `${def.name}@${hostname()}`,
      log,
      ...(credentials ? { credentials } : {}),
      // The service's NATS user may subscribe to its own replies only (`_INBOX_<service>.>`).
      inboxPrefix: `_INBOX_${def.name}`,
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
    await bus.setUp({ ...resources, consumers }, { signal: abort.signal });
  } catch (err) {
    log.fatal({ err }, `${def.name} could not set up NATS: ${(err as Error).message}`);
    await bus.close().catch((closeErr: unknown) => log.warn({ err: closeErr }, "NATS connection did not close cleanly"));
    process.exit(1);
  }

  const readiness: Record<string, () => boolean | Promise<boolean>> = { nats: () => bus.isReady() };
  const http = buildHttpApp({ log, registry, checks: { readiness } });
  let running: RunningService;
  try {
    running = await def.start({ config, log, bus, registry, http, shuttingDown: abort.signal });
  } catch (err) {
    // A start-up failure (a bad agent file, a missing key) is a message for the operator, then exit.
    log.fatal({ err }, `${def.name} could not start: ${(err as Error).message}`);
    await bus.close().catch(() => undefined);
    process.exit(1);
  }
  Object.assign(readiness, running.readiness ?? {});

  const port = def.port ? def.port(config) : config.PORT;
  const address = await http.listen({ port, host: config.HOST });
  log.info({ address }, `${def.name} ready`);
  // A parent that started us with an IPC channel (the dev runner, the e2e tests) learns it whatever the log level.
  process.send?.({ type: "ready", service: def.name, address });

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
      await running.stop();
      await bus.close();
      await http.close();
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

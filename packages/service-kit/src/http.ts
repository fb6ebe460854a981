import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";

export interface HealthChecks {
  /** Each entry must be true for `/readyz` to answer 200 (e.g. `nats`, `streams`). */
  readiness: Record<string, () => boolean | Promise<boolean>>;
}

/**
 * The Fastify app every service exposes: `/healthz` (the process is alive),
 * `/readyz` (its dependencies are ready) and `/metrics` (Prometheus text format).
 */
export function buildHttpApp(opts: { log: Logger; registry: Registry; checks: HealthChecks }): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.log.child({ component: "http" }) as unknown as FastifyBaseLogger,
    // Health probes and Prometheus scrapes every few seconds would drown the log.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get("/healthz", async () => ({ ok: true }));
  app.get("/readyz", async (_req, reply) => {
    const results: Record<string, boolean> = {};
    for (const [name, check] of Object.entries(opts.checks.readiness)) {
      results[name] = await Promise.resolve()
        .then(check)
        .catch((err: unknown) => {
          opts.log.warn({ err, check: name }, "readiness check failed");
          return false;
        });
    }
    const ok = Object.values(results).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ ok, checks: results });
  });
  app.get("/metrics", async (_req, reply) => {
    return reply.type(opts.registry.contentType).send(await opts.registry.metrics());
  });
  return app;
}

/** A metrics registry with the process defaults (CPU, memory, event loop lag) and a `service` label. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

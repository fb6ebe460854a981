import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

export interface ConnectOptions {
  /** Comma-separated NATS URLs, e.g. `nats://127.0.0.1:4222`. */
  url: string;
  /** Connection name shown by the server's monitoring (`service@host`). */
  name: string;
  log: Logger;
}

/**
 * Connects to NATS and keeps reconnecting forever: a service outlives a NATS
 * restart instead of dying with it. Waits for the first connection too, so
 * services can start before the server does.
 */
export async function connectNats({ url, name, log }: ConnectOptions): Promise<NatsConnection> {
  const servers = url
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const nc = await connect({
    servers,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
  });
  log.info({ server: nc.getServer() }, "connected to NATS");
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
        case "reconnect":
          log.warn({ status: s.type, server: s.server }, `NATS ${s.type}`);
          break;
        case "error":
          log.error({ err: s.error }, "NATS connection error");
          break;
        default:
          break;
      }
    }
  })();
  return nc;
}

import { readFile } from "node:fs/promises";
import {
  type Authenticator,
  connect,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
  PermissionViolationError,
} from "@nats-io/transport-node";
import type { Logger } from "pino";
import { CredentialsError } from "./errors.js";

/**
 * Who a service is on NATS: a `.creds` file (JWT and seed) or an nkey seed file, or a user name
 * and password. Without credentials the connection is anonymous (a local server without users).
 */
export type NatsCredentials = { credsFile: string } | { user: string; password: string };

/** What it takes to open a connection as a service: where, as whom, and where replies come back. */
export interface NatsAccess {
  /** Comma-separated NATS URLs, e.g. `nats://127.0.0.1:4222`. */
  url: string;
  credentials?: NatsCredentials;
  /**
   * Prefix of this connection's reply subjects (default `_INBOX`). Each service has its own
   * (`_INBOX_<service>`), so its NATS user may subscribe to its own replies and nobody else's.
   */
  inboxPrefix?: string;
}

/** A connection as a service: where, as whom, under which name, and where to log its status. */
export interface ConnectOptions extends NatsAccess {
  /** Connection name shown by the server's monitoring (`service@host`). */
  name: string;
  log: Logger;
}

/** How a service's bus connects, and how many copies (1–5) of what it creates JetStream keeps (default 1). */
export interface BusOptions extends ConnectOptions {
  replicas?: number;
}

const JWT_MARKER = "-----BEGIN NATS USER JWT-----";

/** Reads a `.creds` file or an nkey seed file into the authenticator for it; a CredentialsError names what is wrong. */
export async function credsFileAuthenticator(path: string): Promise<Authenticator> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CredentialsError(`cannot read the NATS credentials file '${path}'`, { cause: err });
  }
  if (text.includes(JWT_MARKER)) return credsAuthenticator(new TextEncoder().encode(text));
  // An nkey seed file: the seed alone ("SU…"), possibly inside comment lines.
  const seed = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => /^SU[A-Z2-7]{20,}$/.test(l));
  if (!seed) {
    throw new CredentialsError(
      `the NATS credentials file '${path}' holds neither a user JWT with its seed (.creds) nor a user nkey seed (SU…)`,
    );
  }
  return nkeyAuthenticator(new TextEncoder().encode(seed));
}

async function authOptions(credentials: NatsCredentials | undefined): Promise<Record<string, unknown>> {
  if (!credentials) return {};
  if ("credsFile" in credentials) return { authenticator: await credsFileAuthenticator(credentials.credsFile) };
  return { user: credentials.user, pass: credentials.password };
}

/** Says loudly what the server refused: a permission violation is a bug in the service or in its NATS user. */
function logRefusal(log: Logger, err: Error): void {
  if (err instanceof PermissionViolationError) {
    log.error(
      { err, operation: err.operation, subject: err.subject, ...(err.queue ? { queue: err.queue } : {}) },
      `NATS refused a ${err.operation} on '${err.subject}': this service's NATS user may not do that (see infra/nats-permissions.conf)`,
    );
    return;
  }
  log.error({ err }, "NATS connection error");
}

/**
 * Connects to NATS and keeps reconnecting forever: a service outlives a NATS
 * restart instead of dying with it. Waits for the first connection too, so
 * services can start before the server does. A server that refuses the
 * credentials fails the connection at once (it would refuse every retry too).
 */
export async function connectNats({ url, name, log, credentials, inboxPrefix }: ConnectOptions): Promise<NatsConnection> {
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
    ...(inboxPrefix ? { inboxPrefix } : {}),
    ...(await authOptions(credentials)),
  });
  log.info(
    { server: nc.getServer(), ...(credentials && "user" in credentials ? { user: credentials.user } : {}) },
    "connected to NATS",
  );
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
        case "reconnect":
          log.warn({ status: s.type, server: s.server }, `NATS ${s.type}`);
          break;
        case "error":
          logRefusal(log, s.error);
          break;
        default:
          break;
      }
    }
  })();
  return nc;
}

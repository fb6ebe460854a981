import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findNatsServer, INSTALL_HINT } from "./nats.js";
import { ensureNkeyUsers, type NatsUsers, passwordUsers, writeNatsServerConfig } from "./nats-auth.js";

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  // Below Linux's ephemeral range (32768–60999): ports there are handed to every outgoing connection and every
  // listen(0), so a port picked there can be taken by a client socket before the server that needs it binds it.
  for (let tries = 0; tries < 50; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port found between 20000 and 32000");
}

/** The nats-server binary: NATS_SERVER_BIN, PATH, or Debian's /usr/sbin; a clear error when there is none. */
export function natsServerBin(): string {
  const bin = findNatsServer();
  if (!bin) throw new Error(`the tests start their own nats-server, but none was found.\n${INSTALL_HINT}`);
  return bin;
}

export interface NatsServer extends AsyncDisposable {
  url: string;
  port: number;
  storeDir: string;
  /** With `users`: the mllead users the server knows, and each service's credentials (`serviceEnv`). */
  users?: NatsUsers;
  /** Every line the server logged (permission violations show here as `[ERR] … Violation`). */
  log(): string[];
  /** Stops the server (SIGTERM) and starts it again on the same port and store. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function waitForLine(proc: ChildProcess, pattern: RegExp, timeoutMs: number, lines: string[]): Promise<void> {
  let rest = "";
  // Every line is kept (and the pipe kept drained) for as long as the server runs.
  proc.stderr?.on("data", (d: Buffer) => {
    const parts = (rest + d.toString()).split("\n");
    rest = parts.pop() ?? "";
    lines.push(...parts.filter((l) => l.trim()));
  });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`nats-server did not start in ${timeoutMs}ms:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        proc.stderr?.off("data", onData);
        resolve();
      }
    };
    proc.stderr?.on("data", onData);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${out}`));
    });
  });
}

/** How a test's nats-server lets clients in. */
export interface NatsServerOptions {
  /**
   * One user per service with the permissions of infra/nats-permissions.conf: `nkeys` (the shipped
   * infra/nats-users.conf; services get NATS_CREDS) or `passwords` (services get NATS_USER/NATS_PASSWORD).
   * Unset: no users, anyone may do anything (most tests).
   */
  users?: "nkeys" | "passwords";
}

/**
 * Starts a private nats-server with JetStream on a free port and a temporary store,
 * the way nats.js's own test harness does. Dispose it to stop it and delete the store.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), "mllead-nats-"));
  const lines: string[] = [];
  let users: NatsUsers | undefined;
  let args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir];
  if (opts.users) {
    users = opts.users === "nkeys" ? await ensureNkeyUsers(join(storeDir, "auth")) : passwordUsers();
    const file = join(storeDir, "nats.conf");
    await writeNatsServerConfig({ file, host: "127.0.0.1", port, storeDir: join(storeDir, "js"), users: users.kind });
    args = ["-c", file];
  }
  let proc: ChildProcess | undefined;
  const launch = async () => {
    proc = spawn(natsServerBin(), args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...(users?.serverEnv ?? {}) },
    });
    await waitForLine(proc, /Server is ready/, 15_000, lines);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await exited;
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    ...(users ? { users } : {}),
    log: () => [...lines],
    restart: async () => {
      await stop();
      await launch();
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { delimiter, join } from "node:path";

/** True when something accepts TCP connections at the NATS URL's host:port. */
export async function natsReachable(url: string, timeoutMs = 1000): Promise<boolean> {
  const first = url.split(",")[0]?.trim() ?? url;
  const u = new URL(first.includes("://") ? first : `nats://${first}`);
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: u.hostname, port: Number(u.port || 4222) });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

/** Finds nats-server: NATS_SERVER_BIN, then PATH, then Debian's /usr/sbin. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.NATS_SERVER_BIN && existsSync(env.NATS_SERVER_BIN)) return env.NATS_SERVER_BIN;
  const dirs = [...(env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/opt/homebrew/bin"];
  for (const d of dirs) {
    const p = join(d, "nats-server");
    if (d && existsSync(p)) return p;
  }
  return null;
}

export const INSTALL_HINT = [
  "nats-server was not found. Install it with one of:",
  "  Debian/Ubuntu:  sudo apt-get install -y nats-server",
  "  macOS:          brew install nats-server",
  "  Go:             go install github.com/nats-io/nats-server/v2@latest",
  "  or point NATS_URL at a running server (JetStream enabled), or set NATS_SERVER_BIN.",
].join("\n");

/** Installs nats-server with apt-get when running as root on Debian/Ubuntu; returns the binary or null. */
export function tryInstallNatsServer(log: (line: string) => void): string | null {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !existsSync("/usr/bin/apt-get")) return null;
  log("nats-server not found; installing it with apt-get (you are root) …");
  try {
    execFileSync("apt-get", ["install", "-y", "-q", "nats-server"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  } catch {
    try {
      execFileSync("apt-get", ["update", "-q"], { stdio: "inherit" });
      execFileSync("apt-get", ["install", "-y", "-q", "nats-server"], {
        stdio: "inherit",
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      });
    } catch {
      return null;
    }
  }
  return findNatsServer();
}

/** Starts nats-server with JetStream on the URL's port, storing under `storeDir`, no users. Resolves once it is ready. */
export async function startNatsServer(bin: string, url: string, storeDir: string): Promise<ChildProcess> {
  const u = new URL(url.includes("://") ? url : `nats://${url}`);
  mkdirSync(storeDir, { recursive: true });
  return spawnNatsServer(bin, ["-a", u.hostname, "-p", u.port || "4222", "-js", "-sd", storeDir], process.env);
}

/**
 * Starts nats-server with a config file (see `writeNatsServerConfig`); `env` adds what the config reads
 * (the services' public keys). Its log goes to `onLine` (permission violations show there). Resolves once
 * it is ready; rejects with its output when it stops first (a config error names the line).
 */
export async function startNatsServerWithConfig(
  bin: string,
  configFile: string,
  env: Record<string, string>,
  onLine?: (line: string) => void,
): Promise<ChildProcess> {
  const proc = await spawnNatsServer(bin, ["-c", configFile], { ...process.env, ...env }, onLine, true);
  // Its own process group keeps a Ctrl-C from stopping NATS under the services while they drain; it is
  // stopped after them, and with this process whatever way it exits (short of SIGKILL).
  process.once("exit", () => {
    if (proc.exitCode === null) proc.kill("SIGTERM");
  });
  return proc;
}

async function spawnNatsServer(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  onLine?: (line: string) => void,
  detached = false,
): Promise<ChildProcess> {
  const proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"], env, detached });
  if (onLine) {
    let rest = "";
    proc.stderr?.on("data", (d: Buffer) => {
      const lines = (rest + d.toString()).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) onLine(line);
    });
  }
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`nats-server did not become ready:\n${out}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes("Server is ready")) {
        clearTimeout(timer);
        proc.stderr?.off("data", onData);
        // Keep reading its log, or a full pipe would stall the server.
        if (!onLine) proc.stderr?.resume();
        resolve();
      }
    };
    proc.stderr?.on("data", onData);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with code ${code}:\n${out}`));
    });
  });
  return proc;
}

/** True when nothing listens on host:port (so a server of ours can take it). */
export async function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A port the OS says is free on `host`. */
export async function anyFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = addr && typeof addr === "object" ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

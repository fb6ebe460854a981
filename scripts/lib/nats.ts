import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
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

/** Starts nats-server with JetStream on the URL's port, storing under `storeDir`. Resolves once it is ready. */
export async function startNatsServer(bin: string, url: string, storeDir: string): Promise<ChildProcess> {
  const u = new URL(url.includes("://") ? url : `nats://${url}`);
  mkdirSync(storeDir, { recursive: true });
  const proc = spawn(bin, ["-a", u.hostname, "-p", u.port || "4222", "-js", "-sd", storeDir], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`nats-server did not become ready:\n${out}`)), 15_000);
    proc.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Server is ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with code ${code}:\n${out}`));
    });
  });
  return proc;
}

import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const SERVICE_NAMES = ["tech-lead", "specialist-agent", "gpu-runner", "slack-gateway"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceProcess {
  name: ServiceName;
  proc: ChildProcess;
  /** Every line the process printed (JSON log lines, mostly). */
  lines: string[];
  /** Resolves with the address once the service logs that it is ready. */
  ready: Promise<string>;
  exited: Promise<number | null>;
}

/**
 * Starts one service as its own Node process (TypeScript run through tsx), the
 * way production runs it; it says when it is ready over an IPC channel.
 */
export function startService(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  opts: { onLine?: (name: ServiceName, line: string) => void } = {},
): ServiceProcess {
  const entry = join(REPO_ROOT, "services", name, "src", "main.ts");
  const proc = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const lines: string[] = [];
  let resolveReady: (addr: string) => void = () => undefined;
  let rejectReady: (err: Error) => void = () => undefined;
  const ready = new Promise<string>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  const exited = new Promise<number | null>((res) => proc.once("exit", (code) => res(code)));
  void exited.then((code) =>
    rejectReady(new Error(`${name} exited with code ${code} before it was ready:\n${lines.slice(-20).join("\n")}`)),
  );
  const onData = (buf: Buffer) => {
    for (const line of buf.toString().split("\n")) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 5000) lines.splice(0, 1000);
      opts.onLine?.(name, line);
    }
  };
  // runService reports readiness over the IPC channel, independent of LOG_LEVEL.
  proc.on("message", (m: { type?: string; address?: string }) => {
    if (m?.type === "ready") resolveReady(m.address ?? "");
  });
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
  return { name, proc, lines, ready, exited };
}

/** Stops a service: SIGTERM (graceful), then SIGKILL if it lingers. */
export async function stopService(s: ServiceProcess, graceMs = 10_000): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  s.proc.kill("SIGTERM");
  const timer = setTimeout(() => s.proc.kill("SIGKILL"), graceMs);
  await s.exited;
  clearTimeout(timer);
}

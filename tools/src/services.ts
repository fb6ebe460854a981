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
 * The export condition under which every workspace package resolves to its compiled `dist/` (package.json
 * `exports`: `{ "mllead-dist": "./dist/index.js", "default": "./src/index.ts" }`). Without it a package
 * resolves to its TypeScript source, as tsx, vitest and tsc want it.
 */
export const DIST_CONDITION = "mllead-dist";

/** How a service runs: from TypeScript source through tsx, or from its `pnpm build` output with plain node. */
export type ServiceFrom = "source" | "dist";

/**
 * V8 flags a service runs with in production (`pnpm start --prod`, the Docker image's CMD). A semi-space of at most
 * 4 MiB: left to V8, the young generation grows toward 16 MiB a semi-space while a service loads its modules at
 * start, and stays that large while it idles; capped, an idle service holds 6–9 MiB less (`pnpm bench memory`, which
 * runs its bare yardstick with the same flags). The price is more frequent, shorter scavenges under load; a service's
 * heavy work (git, Python, the model's calls) runs in other processes or waits on the network.
 */
export const PROD_NODE_FLAGS = ["--max-semi-space-size=4"] as const;

/**
 * The node arguments that run a service: `--import tsx src/main.ts`, or the production flags and
 * `--conditions=mllead-dist dist/main.js`.
 */
export function serviceArgs(name: ServiceName, from: ServiceFrom = "source"): string[] {
  return from === "dist"
    ? [...PROD_NODE_FLAGS, `--conditions=${DIST_CONDITION}`, join(REPO_ROOT, "services", name, "dist", "main.js")]
    : ["--import", "tsx", join(REPO_ROOT, "services", name, "src", "main.ts")];
}

/**
 * Starts one service as its own Node process (TypeScript run through tsx, or `from: "dist"` the build's
 * JavaScript, the way production runs it); it says when it is ready over an IPC channel.
 */
export function startService(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  opts: { onLine?: (name: ServiceName, line: string) => void; from?: ServiceFrom } = {},
): ServiceProcess {
  const proc = spawn(process.execPath, serviceArgs(name, opts.from), {
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

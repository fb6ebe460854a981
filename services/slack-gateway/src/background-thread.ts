import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, type ResourceLimits, Worker, workerData } from "node:worker_threads";
import { Bus, type NatsAccess } from "@mllead/bus";
import { bestEffort, createLogger, startTracing, type TracingConfig } from "@mllead/service-kit";
import type { Logger } from "pino";
import { type Background, runBackground } from "./background.js";
import type { GatewayConfig } from "./config.js";

/** What the main thread hands the background thread (plain data: it is copied across). */
interface ThreadData {
  mllead: "gateway-background";
  /** With the OTEL_* settings: the thread has its own tracer provider (OpenTelemetry's globals are per thread). */
  config: GatewayConfig & TracingConfig;
  /** Where the gateway's NATS is and as whom to connect (its credentials: same process, another thread). */
  nats: NatsAccess;
  logLevel: string;
  jobUpdateIntervalMs?: number;
}

type FromThread = { type: "ready" } | { type: "failed"; message: string } | { type: "stopped" };

/** The background thread as the main thread sees it. */
export interface BackgroundThread extends Background {
  /** False once the thread has died; the gateway then reports itself not ready. */
  alive(): boolean;
}

/** How long `stop()` waits for the thread to finish what it holds before terminating it (ms). */
const STOP_DEADLINE_MS = 20_000;

/**
 * The thread's young generation, in MiB (Node's `resourceLimits.maxYoungGenerationSizeMb`). Left to V8, a
 * thread's young generation grows toward its default ceiling while the thread loads Bolt at start, and stays
 * that large while the gateway idles. Measured on a 2-core machine shared with other work: with the default
 * the gateway idled at 176–181 MiB (`pnpm bench memory`), with 4 MiB at 145–163 MiB; `pnpm bench ack` showed
 * the same acknowledgement p99 and the same backlog of renders either way. Smaller means more frequent, shorter
 * scavenges, and those run on this thread, not on the one that acknowledges Slack.
 */
const YOUNG_GENERATION_MB = 4;

/**
 * Runs the gateway's background work (runBackground: Bolt listeners for stored events, rendering)
 * on a worker thread with its own event loop, heap and NATS connection, so neither rendering nor
 * its garbage collection delays the HTTP acknowledgements on the main thread. Resolves once the
 * thread is consuming; rejects with the thread's reason when it cannot start.
 *
 * Why a thread (measured with `pnpm bench ack`: 500 mentions at 100/s while tasks render, 2-core
 * machine shared with other work): inline, the acking thread spends 50–63% of a core on listeners
 * and rendering and the gateway's p99 was 1.7–3.9× bare Bolt's (median 2.7×); on a thread it spends
 * 9–12% and the p99 was 1.6–2.8× (median 2.1×). A separate process would isolate as well but needs
 * its own deployment unit; a worker keeps one service, one readiness and one shutdown.
 */
export async function startBackgroundThread(opts: {
  config: GatewayConfig & TracingConfig;
  nats: NatsAccess;
  log: Logger;
  jobUpdateIntervalMs?: number;
}): Promise<BackgroundThread> {
  const file = fileURLToPath(import.meta.url);
  const data: ThreadData = {
    mllead: "gateway-background",
    config: opts.config,
    nats: opts.nats,
    logLevel: opts.log.level,
    ...(opts.jobUpdateIntervalMs !== undefined ? { jobUpdateIntervalMs: opts.jobUpdateIntervalMs } : {}),
  };
  const resourceLimits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB };
  const worker = file.endsWith(".ts") ? tsWorker(data, resourceLimits) : new Worker(file, { workerData: data, resourceLimits });
  let alive = true;
  let stopping = false;
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  void exited.then((code) => {
    alive = false;
    if (!stopping) opts.log.error({ code }, "the gateway's background thread exited; the gateway is no longer ready");
  });
  worker.on("error", (err) => opts.log.error({ err }, "the gateway's background thread failed"));

  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: FromThread) => {
      if (m.type === "ready") resolve();
      if (m.type === "failed") reject(new Error(`the gateway's background thread could not start: ${m.message}`));
    };
    worker.on("message", onMessage);
    void exited.then((code) => reject(new Error(`the gateway's background thread exited with ${code} while starting`)));
  }).catch(async (err: unknown) => {
    stopping = true;
    await worker.terminate();
    throw err;
  });

  return {
    alive: () => alive,
    stop: async () => {
      if (!alive) return;
      stopping = true;
      worker.postMessage({ type: "stop" });
      const deadline = new Promise<"late">((r) => setTimeout(() => r("late"), STOP_DEADLINE_MS).unref());
      if ((await Promise.race([exited, deadline])) === "late") {
        opts.log.warn("the gateway's background thread did not stop in time; terminating it");
        await worker.terminate();
      }
    },
  };
}

/**
 * The thread, run from TypeScript source (tsx, vitest). On Node 20 a worker does not get `--import
 * tsx`'s loader before its entry loads, so a one-line bootstrap registers tsx, then imports this file.
 */
function tsWorker(data: ThreadData, resourceLimits: ResourceLimits): Worker {
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`;
  const execArgv = process.execArgv.filter(
    (a, i, all) => !a.includes("tsx") && !(a === "--import" && all[i + 1]?.includes("tsx")),
  );
  return new Worker(bootstrap, { eval: true, workerData: data, execArgv, resourceLimits });
}

/** The thread's side: connect, run the background work, stop when told. */
async function runThread(data: ThreadData): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const log = createLogger("slack-gateway", data.logLevel).child({ component: "slack-gateway", thread: "background" });
  let bus: Bus | undefined;
  let background: Background | undefined;
  const tracing = await startTracing("slack-gateway", data.config, log);
  try {
    bus = await Bus.connect({ ...data.nats, name: "slack-gateway-background", log });
    background = await runBackground({
      config: data.config,
      log,
      bus,
      ...(data.jobUpdateIntervalMs !== undefined ? { jobUpdateIntervalMs: data.jobUpdateIntervalMs } : {}),
    });
  } catch (err) {
    log.error({ err }, "the background thread could not start");
    await bestEffort("close the background thread's NATS connection after a failed start", log, () => bus?.close());
    await bestEffort("export the background thread's last traces", log, () => tracing.shutdown());
    port.postMessage({ type: "failed", message: (err as Error).message } satisfies FromThread);
    // Let the message reach the main thread before the thread goes; the main thread terminates it.
    return;
  }
  port.on("message", (m: { type?: string }) => {
    if (m.type !== "stop") return;
    void (async () => {
      await background?.stop().catch((err: unknown) => log.warn({ err }, "background work did not stop cleanly"));
      await bestEffort("close the background thread's NATS connection after a failed start", log, () => bus?.close());
      await bestEffort("export the background thread's last traces", log, () => tracing.shutdown());
      port.postMessage({ type: "stopped" } satisfies FromThread);
      process.exit(0);
    })();
  });
  port.postMessage({ type: "ready" } satisfies FromThread);
}

if (!isMainThread && (workerData as Partial<ThreadData> | null)?.mllead === "gateway-background") {
  await runThread(workerData as ThreadData);
}

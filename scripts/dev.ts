/**
 * `pnpm start`: runs @mllead locally — nats-server (when none is reachable), the
 * four services, and, when no Slack tokens are set, the local Slack sandbox to
 * talk to @mllead in the browser. Ctrl-C stops everything it started.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startSlackSandbox } from "@mllead/slack-sandbox";
import {
  BWRAP_HINT,
  findBwrap,
  NUMPY_HINT,
  sandboxPythonHasNumpy,
  tryInstallBubblewrap,
  tryInstallSandboxNumpy,
} from "./lib/bubblewrap.js";
import { formatLogLine } from "./lib/log-format.js";
import { findNatsServer, INSTALL_HINT, natsReachable, startNatsServer, tryInstallNatsServer } from "./lib/nats.js";
import { REPO_ROOT, SERVICE_NAMES, type ServiceProcess, startService, stopService } from "./lib/services.js";

const say = (line: string) => process.stdout.write(`${line}\n`);

if (existsSync(join(REPO_ROOT, ".env")) && typeof process.loadEnvFile === "function")
  process.loadEnvFile(join(REPO_ROOT, ".env"));

const env: NodeJS.ProcessEnv = { ...process.env };
env.NATS_URL ??= "nats://127.0.0.1:4222";
env.GATEWAY_PORT ??= "3000";
env.LOG_LEVEL ??= "info";
// Task worktrees default to the user's state directory (~/.local/state/mllead), outside this checkout.
env.MLLEAD_JOBS_DIR ??= join(REPO_ROOT, ".mllead", "jobs");

const started: { nats?: ChildProcess; services: ServiceProcess[]; sandbox?: { close(): Promise<void> } } = { services: [] };
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say("\nstopping …");
    await Promise.all(started.services.map((s) => stopService(s)));
    await started.sandbox?.close().catch(() => undefined);
    if (started.nats && started.nats.exitCode === null) {
      started.nats.kill("SIGTERM");
      await new Promise((r) => started.nats?.once("exit", r));
    }
    say("stopped.");
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  // 0. bubblewrap, the sandbox for model-driven commands and GPU jobs. Without it the services fall back and warn.
  if (!findBwrap(env) && !tryInstallBubblewrap(say)) say(BWRAP_HINT);
  if (!sandboxPythonHasNumpy() && !tryInstallSandboxNumpy(say)) say(NUMPY_HINT);

  // 1. NATS
  if (await natsReachable(env.NATS_URL)) {
    say(`NATS: using the server at ${env.NATS_URL}`);
  } else {
    const bin = findNatsServer(env) ?? tryInstallNatsServer(say);
    if (!bin) {
      say(`No NATS server answers at ${env.NATS_URL}.\n${INSTALL_HINT}`);
      process.exit(1);
    }
    started.nats = await startNatsServer(bin, env.NATS_URL, join(REPO_ROOT, ".mllead", "nats"));
    say(`NATS: started ${bin} at ${env.NATS_URL} (JetStream store .mllead/nats)`);
  }

  // 2. Slack: real tokens, or the local sandbox.
  const gatewayUrl = `http://127.0.0.1:${env.GATEWAY_PORT}/slack/events`;
  let sandboxUrl: string | undefined;
  if (!env.SLACK_BOT_TOKEN) {
    env.SLACK_BOT_TOKEN = "xoxb-sandbox-local";
    env.SLACK_SIGNING_SECRET = randomBytes(16).toString("hex");
    delete env.SLACK_APP_TOKEN;
    const sandbox = await startSlackSandbox({
      port: Number(env.MLLEAD_SANDBOX_PORT ?? 3300),
      botToken: env.SLACK_BOT_TOKEN,
      signingSecret: env.SLACK_SIGNING_SECRET,
      gatewayUrl,
    });
    started.sandbox = sandbox;
    env.SLACK_API_URL = sandbox.apiUrl;
    sandboxUrl = sandbox.url;
  }

  // 3. The four services.
  for (const name of SERVICE_NAMES) {
    started.services.push(startService(name, env, { onLine: (n, line) => say(formatLogLine(n, line)) }));
  }
  await Promise.all(started.services.map((s) => s.ready));
  for (const s of started.services) {
    void s.exited.then((code) => {
      if (!stopping) {
        say(`${s.name} exited unexpectedly (code ${code}); stopping everything.`);
        void shutdown(1);
      }
    });
  }

  const brain = env.MLLEAD_BRAIN ?? (env.ANTHROPIC_API_KEY ? "anthropic" : "offline");
  say("");
  say("  @mllead is running.");
  say(`  brain: ${brain}${brain === "offline" ? " (deterministic, no Claude key set)" : ""}`);
  if (sandboxUrl) {
    say(`  Slack sandbox: open ${sandboxUrl} and write  @mllead train a baseline on the churn table`);
  } else {
    say(`  Slack events URL: ${gatewayUrl}${env.SLACK_APP_TOKEN ? " (Socket Mode is on: no public URL needed)" : ""}`);
  }
  say("  Ctrl-C stops everything.");
  say("");
} catch (err) {
  say(`could not start: ${(err as Error).message}`);
  await shutdown(1);
}

/**
 * `pnpm start`: runs @mllead locally — its own nats-server with one user per service
 * (unless NATS_URL names a server to use), the four services, and, when no Slack
 * tokens are set, the local Slack sandbox to talk to @mllead in the browser.
 * `pnpm start --prod` runs the services from the build (`pnpm build`, done first when dist/ is missing or
 * older than the sources) with plain node instead of tsx.
 * Ctrl-C stops everything it started.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startSlackSandbox } from "@mllead/slack-sandbox";
import { build } from "@mllead/tools/build";
import {
  anyFreePort,
  findNatsServer,
  INSTALL_HINT,
  natsReachable,
  portFree,
  startNatsServerWithConfig,
  tryInstallNatsServer,
} from "@mllead/tools/nats";
import { ensureNkeyUsers, NATS_AUTH_DIR, type NatsUsers, writeNatsServerConfig } from "@mllead/tools/nats-auth";
import {
  REPO_ROOT,
  SERVICE_NAMES,
  type ServiceName,
  type ServiceProcess,
  startService,
  stopService,
} from "@mllead/tools/services";
import {
  BWRAP_HINT,
  findBwrap,
  MATPLOTLIB_HINT,
  NUMPY_HINT,
  sandboxPythonHasMatplotlib,
  sandboxPythonHasNumpy,
  tryInstallBubblewrap,
  tryInstallSandboxMatplotlib,
  tryInstallSandboxNumpy,
} from "./lib/bubblewrap.js";
import { formatLogLine } from "./lib/log-format.js";

const say = (line: string) => process.stdout.write(`${line}\n`);
const from = process.argv.includes("--prod") ? "dist" : "source";

if (existsSync(join(REPO_ROOT, ".env")) && typeof process.loadEnvFile === "function")
  process.loadEnvFile(join(REPO_ROOT, ".env"));

const env: NodeJS.ProcessEnv = { ...process.env };
env.GATEWAY_PORT ??= "3000";
env.LOG_LEVEL ??= "info";
// Task worktrees default to the user's state directory (~/.local/state/mllead), outside this checkout.
env.MLLEAD_JOBS_DIR ??= join(REPO_ROOT, ".mllead", "jobs");
// The key artifact links are signed with: one per run unless set (a restart ends the links drawn before it).
env.MLLEAD_ARTIFACT_LINK_SECRET ||= randomBytes(32).toString("hex");

const started: { nats?: ChildProcess; services: ServiceProcess[]; sandbox?: { close(): Promise<void> } } = { services: [] };
let stopping = false;

async function shutdown(code: number): Promise<void> {
  // One Ctrl-C can arrive twice (the terminal signals the whole group, and tsx relays it too): exiting on the
  // second would leave the services and NATS behind. stopService bounds the wait (SIGKILL after 10 s).
  if (stopping) return;
  stopping = true;
  say("\nstopping …");
  await Promise.all(started.services.map((s) => stopService(s)));
  await started.sandbox
    ?.close()
    .catch((err: unknown) => say(`the Slack sandbox did not close cleanly: ${(err as Error).message}`));
  if (started.nats && started.nats.exitCode === null) {
    const exited = new Promise((r) => started.nats?.once("exit", r));
    started.nats.kill("SIGTERM");
    await exited;
  }
  say("stopped.");
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  // 0. bubblewrap, the sandbox for model-driven commands and GPU jobs. Without it the services fall back and warn.
  if (!findBwrap(env) && !tryInstallBubblewrap(say)) say(BWRAP_HINT);
  if (!sandboxPythonHasNumpy() && !tryInstallSandboxNumpy(say)) say(NUMPY_HINT);
  if (!sandboxPythonHasMatplotlib() && !tryInstallSandboxMatplotlib(say)) say(MATPLOTLIB_HINT);

  // 1. NATS: the server NATS_URL names, as it is; else our own, where each service is its own user.
  let users: NatsUsers | undefined;
  if (env.NATS_URL) {
    if (!(await natsReachable(env.NATS_URL))) {
      say(`NATS_URL is ${env.NATS_URL}, but nothing answers there. Start that server, or leave NATS_URL unset`);
      say("and pnpm start runs its own nats-server, with one NATS user per service.");
      process.exit(1);
    }
    const who = env.NATS_CREDS ? "NATS_CREDS" : env.NATS_USER ? `user ${env.NATS_USER}` : "no credentials (anonymous)";
    say(`NATS: using the server at ${env.NATS_URL} (NATS_URL is set); every service connects with ${who}`);
  } else {
    const bin = findNatsServer(env) ?? tryInstallNatsServer(say);
    if (!bin) {
      say(`pnpm start runs its own nats-server, but none was found.\n${INSTALL_HINT}`);
      process.exit(1);
    }
    users = await ensureNkeyUsers();
    const port = await natsPort(env.MLLEAD_NATS_PORT);
    const dir = join(REPO_ROOT, ".mllead", "nats");
    const file = join(dir, "nats.conf");
    await writeNatsServerConfig({ file, host: "127.0.0.1", port, storeDir: dir, users: "nkeys" });
    // Errors and warnings (a refused publish or subscription among them) show in the output.
    started.nats = await startNatsServerWithConfig(bin, file, users.serverEnv, (line) => {
      if (/\[(ERR|WRN|FTL)\]/.test(line)) say(`nats | ${line}`);
    });
    env.NATS_URL = `nats://127.0.0.1:${port}`;
    for (const name of ["NATS_CREDS", "NATS_USER", "NATS_PASSWORD"]) delete env[name];
    say(`NATS: started ${bin} at ${env.NATS_URL}, one user per service (keys in ${NATS_AUTH_DIR}, store .mllead/nats)`);
  }
  const serviceEnv = (name: ServiceName): NodeJS.ProcessEnv => ({ ...env, ...(users?.serviceEnv(name) ?? {}) });

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
    // The sandbox runs in a browser on this machine, so the gateway's local address serves its artifact links.
    env.MLLEAD_PUBLIC_URL ||= `http://127.0.0.1:${env.GATEWAY_PORT}`;
  }

  // 3. The four services: from source through tsx, or (--prod) from the build with plain node.
  if (from === "dist") {
    const result = await build({ onLine: (line) => say(`build | ${line}`) });
    say(result.built.length ? `built ${result.built.join(", ")} in ${result.ms} ms` : "the build is up to date");
  }
  for (const name of SERVICE_NAMES) {
    const onLine = (n: ServiceName, line: string) => say(formatLogLine(n, line));
    started.services.push(startService(name, serviceEnv(name), { onLine, from }));
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
  say(`  services: ${from === "dist" ? "from the build (services/*/dist, plain node)" : "from source (tsx)"}`);
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

/** MLLEAD_NATS_PORT, else NATS' usual 4222 when it is free, else any free port (another nats-server may hold 4222). */
async function natsPort(wanted: string | undefined): Promise<number> {
  if (wanted) {
    const port = Number(wanted);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`MLLEAD_NATS_PORT: not a port: ${wanted}`);
    return port;
  }
  return (await portFree("127.0.0.1", 4222)) ? 4222 : anyFreePort("127.0.0.1");
}

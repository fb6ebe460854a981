import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SlackSandbox, startSlackSandbox } from "@mllead/slack-sandbox";
import type { NatsUsers } from "./nats-auth.js";
import { freePort, type NatsServer, startNatsServer } from "./nats-server.js";
import { SERVICE_NAMES, type ServiceName, type ServiceProcess, startService, stopService } from "./services.js";

/** What the services need of a NATS: its URL (a cluster's URLs comma-separated) and, with users, their credentials. */
export interface NatsEndpoint {
  url: string;
  users?: NatsUsers;
}

export interface Stack<N extends NatsEndpoint = NatsServer> extends AsyncDisposable {
  nats: N;
  sandbox: SlackSandbox;
  env: NodeJS.ProcessEnv;
  services: Map<ServiceName, ServiceProcess>;
  /** The extra specialist-agent processes of `specialistReplicas`, in order (their lines are in each's `lines`). */
  replicas: ServiceProcess[];
  /** Kills a service with SIGKILL (no cleanup at all), as a crash or OOM kill would. */
  kill(name: ServiceName): Promise<void>;
  /** Starts a service again (after `kill`) and waits until it is ready. */
  start(name: ServiceName): Promise<void>;
  /** Every log line a service printed, across restarts. */
  logs(name: ServiceName): string[];
}

export interface StackOptions {
  /**
   * How Slack reaches the gateway: `http` (default; signed requests to its Request URL) or `socket`
   * (Socket Mode: the gateway gets the sandbox's app token and no signing secret, and the sandbox
   * has no Request URL, so everything goes over the WebSocket).
   */
  slack?: "http" | "socket";
  /**
   * NATS with one user per service (infra/nats-permissions.conf): each service connects with its own
   * credentials (`nkeys`: NATS_CREDS, `passwords`: NATS_USER/NATS_PASSWORD). Unset: an open server.
   */
  natsUsers?: "nkeys" | "passwords";
  /**
   * More specialist-agent processes beside the stack's own, one per entry, as on other hosts: each with its
   * own MLLEAD_STATE_DIR and MLLEAD_WORKSPACE_DIR (`<dir>/replica-<n>/…`) and the entry's variables on top.
   */
  specialistReplicas?: readonly NodeJS.ProcessEnv[];
}

/** What the four services need around them: a scratch directory, the Slack sandbox, and their environment. */
export interface ServicesWorld {
  /** Workspaces, state and job directories under it; the caller removes it. */
  dir: string;
  /** The Slack sandbox the gateway talks to (the caller closes it). */
  sandbox: SlackSandbox;
  /** NATS, Slack and directory settings for every service (`RUNNER_ID` is `<name>-runner`). */
  env: NodeJS.ProcessEnv;
}

/**
 * Starts the Slack sandbox (Events API over HTTP to the gateway, or Socket Mode) with fresh credentials, makes a
 * scratch directory `mllead-<name>-…`, and gives the environment that points the services at both and at `natsUrl`.
 */
export async function servicesWorld(natsUrl: string, opts: { name: string; slack?: "http" | "socket" }): Promise<ServicesWorld> {
  const socketMode = opts.slack === "socket";
  const dir = await mkdtemp(join(tmpdir(), `mllead-${opts.name}-`));
  const signingSecret = randomBytes(16).toString("hex");
  const botToken = `xoxb-${opts.name}-${randomBytes(6).toString("hex")}`;
  const gatewayPort = await freePort();
  const sandbox = await startSlackSandbox({
    botToken,
    signingSecret,
    ...(socketMode ? {} : { gatewayUrl: `http://127.0.0.1:${gatewayPort}/slack/events` }),
  });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NATS_URL: natsUrl,
    SLACK_BOT_TOKEN: botToken,
    ...(socketMode ? { SLACK_APP_TOKEN: sandbox.appToken } : { SLACK_SIGNING_SECRET: signingSecret }),
    SLACK_API_URL: sandbox.apiUrl,
    GATEWAY_PORT: String(gatewayPort),
    MLLEAD_WORKSPACE_DIR: join(dir, "workspaces"),
    MLLEAD_STATE_DIR: join(dir, "state"),
    MLLEAD_JOBS_DIR: join(dir, "jobs"),
    RUNNER_ID: `${opts.name}-runner`,
    LOG_LEVEL: "info",
  };
  return { dir, sandbox, env };
}

/**
 * The whole of mllead as a person would run it: a private nats-server, the Slack
 * sandbox standing in for Slack, and the four services as separate processes.
 */
export async function startStack(extraEnv: NodeJS.ProcessEnv = {}, opts: StackOptions = {}): Promise<Stack> {
  const nats = await startNatsServer(opts.natsUsers ? { users: opts.natsUsers } : {});
  try {
    return await startStackOn(nats, extraEnv, opts, () => nats[Symbol.asyncDispose]());
  } catch (err) {
    await nats[Symbol.asyncDispose]();
    throw err;
  }
}

/**
 * The stack on a NATS the caller started and owns (e.g. a 3-node cluster, with MLLEAD_STREAM_REPLICAS=3 in
 * `extraEnv`): disposing the stack stops the services and the sandbox, and leaves that NATS running.
 */
export async function startStackOn<N extends NatsEndpoint>(
  nats: N,
  extraEnv: NodeJS.ProcessEnv = {},
  opts: Pick<StackOptions, "slack" | "specialistReplicas"> = {},
  disposeNats: () => PromiseLike<void> = async () => undefined,
): Promise<Stack<N>> {
  const {
    dir,
    sandbox,
    env: base,
  } = await servicesWorld(nats.url, { name: "e2e", ...(opts.slack ? { slack: opts.slack } : {}) });
  const env: NodeJS.ProcessEnv = {
    ...base,
    // A killed worker's message comes back after 3 s instead of 30 s.
    MLLEAD_ACK_WAIT_SEC: "3",
    ...extraEnv,
  };
  const services = new Map<ServiceName, ServiceProcess>();
  const logs = new Map<ServiceName, string[]>(SERVICE_NAMES.map((n) => [n, []]));
  const launch = async (name: ServiceName) => {
    const s = startService(
      name,
      { ...env, ...(nats.users?.serviceEnv(name) ?? {}) },
      {
        onLine: (n, line) => logs.get(n)?.push(line),
      },
    );
    services.set(name, s);
    await s.ready;
  };
  const replicas: ServiceProcess[] = [];
  const launchReplica = async (extra: NodeJS.ProcessEnv, i: number) => {
    const own = {
      MLLEAD_STATE_DIR: join(dir, `replica-${i + 1}`, "state"),
      MLLEAD_WORKSPACE_DIR: join(dir, `replica-${i + 1}`, "workspaces"),
    };
    const name = "specialist-agent";
    const s = startService(name, { ...env, ...(nats.users?.serviceEnv(name) ?? {}), ...own, ...extra });
    replicas.push(s);
    await s.ready;
  };
  try {
    await Promise.all(SERVICE_NAMES.map(launch));
    await Promise.all((opts.specialistReplicas ?? []).map(launchReplica));
  } catch (err) {
    await Promise.all([...services.values(), ...replicas].map((s) => stopService(s, 2000)));
    await sandbox.close();
    throw err;
  }
  return {
    nats,
    sandbox,
    env,
    services,
    replicas,
    logs: (name) => logs.get(name) ?? [],
    kill: async (name) => {
      const s = services.get(name);
      if (!s) return;
      s.proc.kill("SIGKILL");
      await s.exited;
    },
    start: launch,
    [Symbol.asyncDispose]: async () => {
      await Promise.all([...services.values(), ...replicas].map((s) => stopService(s, 5000)));
      await sandbox.close();
      await disposeNats();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

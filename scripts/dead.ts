/**
 * `pnpm dead list [--before <seq>] [--limit <n>] | show <seq> | replay <seq> | drop <seq>`: what sits in
 * MLLEAD_DEAD (messages a consumer set aside), asked of the tech lead over `mllead.q.dead.cli`.
 * Connects like a service: NATS_URL (default nats://127.0.0.1:$MLLEAD_NATS_PORT or 4222) and NATS_CREDS or
 * NATS_USER/NATS_PASSWORD; with neither, the `ops` seed `pnpm start` keeps in .mllead/nats-auth/ops.nk.
 * Exit status: 0 done, 1 refused or failed, 2 bad usage.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { connectNats, decode } from "@mllead/bus";
import { type DeadEntry, DeadQuery, DeadReply, SUBJECTS } from "@mllead/contracts";
import { createLogger, natsCredentials } from "@mllead/service-kit";
import { NATS_AUTH_DIR, OPS_IDENTITY } from "@mllead/tools/nats-auth";

const USAGE = "usage: pnpm dead list [--before <seq>] [--limit <n>] | show <seq> | replay <seq> | drop <seq>";
type NatsConnection = Awaited<ReturnType<typeof connectNats>>;

/** How long to wait for the tech lead (ms). */
const TIMEOUT_MS = 10_000;

/** The request the command line asks for, or a usage error. */
function parseArgs(argv: readonly string[]): DeadQuery | string {
  const [action = "list", ...rest] = argv;
  const num = (s: string | undefined) => (s && /^\d{1,15}$/.test(s) && Number(s) > 0 ? Number(s) : undefined);
  if (action === "list") {
    const q: DeadQuery = { v: 1, via: "cli", action, limit: 10 };
    for (let i = 0; i < rest.length; i += 2) {
      const value = num(rest[i + 1]);
      if (value === undefined || (rest[i] !== "--before" && rest[i] !== "--limit")) return USAGE;
      if (rest[i] === "--before") q.before = value;
      else q.limit = Math.min(value, 50);
    }
    return q;
  }
  if (action !== "show" && action !== "replay" && action !== "drop") return USAGE;
  const seq = num(rest[0]);
  if (seq === undefined || rest.length !== 1) return `say which entry by its sequence (from \`pnpm dead list\`)\n${USAGE}`;
  return { v: 1, via: "cli", action, seq, limit: 10 };
}

const line = (e: DeadEntry) =>
  `#${e.seq}  ${e.at}  ${e.consumer}  ${e.subject}  ${e.code}  ${e.size} B${e.truncatedFrom ? ` (cut from ${e.truncatedFrom})` : ""}\n      ${e.reason}`;

/** The reply as text for a terminal. */
function renderReply(reply: DeadReply): string {
  if (!reply.ok) return `refused: ${reply.error.message} (${reply.error.code})`;
  switch (reply.action) {
    case "list":
      if (reply.entries.length === 0) return "MLLEAD_DEAD is empty.";
      return [
        `MLLEAD_DEAD holds ${reply.total} (newest first):`,
        ...reply.entries.map(line),
        ...(reply.nextBefore ? [`older: pnpm dead list --before ${reply.nextBefore}`] : []),
      ].join("\n");
    case "show": {
      const e = reply.entry;
      const head = `${line(e)}\n      deliveries: ${e.deliveries ?? "?"}  msg id: ${e.msgId ?? "-"}`;
      return `${head}\n${e.payload}${e.cut ? "\n… (cut for showing)" : ""}`;
    }
    case "replay":
      return `replayed #${reply.seq} to ${reply.subject} as ${reply.msgId}; its consumer handles it again, and the entry is gone.`;
    case "drop":
      return `dropped #${reply.seq}.`;
    default: {
      const never: never = reply;
      return never;
    }
  }
}

/** NATS_CREDS/NATS_USER when set, else the ops seed of `pnpm start`'s own server when there is one. */
function credentialsFrom(env: NodeJS.ProcessEnv) {
  const given = natsCredentials(env);
  if (given) return given;
  const ops = join(NATS_AUTH_DIR, `${OPS_IDENTITY}.nk`);
  return existsSync(ops) ? { credsFile: ops } : undefined;
}

/** Connects as the operator, giving up after `ms` (the bus's connection waits for a server forever). */
async function connectOps(url: string, env: NodeJS.ProcessEnv, ms: number): Promise<NatsConnection> {
  const credentials = credentialsFrom(env);
  const log = createLogger("dead", env.LOG_LEVEL ?? "warn");
  const access = {
    url,
    name: "mllead-dead-cli",
    log,
    inboxPrefix: `_INBOX_${OPS_IDENTITY}`,
    ...(credentials ? { credentials } : {}),
  };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no NATS server answered at ${url} within ${ms / 1000} s`)), ms);
  });
  // The ops user may not call the JetStream API, so it connects with the bare connection, not a Bus.
  return Promise.race([connectNats(access), late]).finally(() => clearTimeout(timer));
}

async function main(env: NodeJS.ProcessEnv): Promise<number> {
  const query = parseArgs(process.argv.slice(2));
  if (typeof query === "string") {
    process.stderr.write(`${query}\n`);
    return 2;
  }
  const url = env.NATS_URL ?? `nats://127.0.0.1:${env.MLLEAD_NATS_PORT ?? 4222}`;
  const nc = await connectOps(url, env, TIMEOUT_MS);
  try {
    const body = new TextEncoder().encode(JSON.stringify(DeadQuery.parse(query)));
    const m = await nc.request(SUBJECTS.deadOpsQuery, body, { timeout: TIMEOUT_MS }).catch((err: unknown) => {
      throw new Error(`the tech lead did not answer on ${SUBJECTS.deadOpsQuery} at ${url} (${(err as Error).message})`, {
        cause: err,
      });
    });
    const reply = decode(SUBJECTS.deadOpsQuery, m.data, DeadReply);
    process.stdout.write(`${renderReply(reply)}\n`);
    return reply.ok ? 0 : 1;
  } finally {
    await nc.close();
  }
}

// exit, not exitCode: a connection still trying to reach a server would keep the process alive.
process.exit(
  await main(process.env).catch((err: unknown) => {
    process.stderr.write(`pnpm dead: ${(err as Error).message}\n`);
    return 1;
  }),
);

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { createNkeyUser, type NkeyUser, nkeyUserFromSeed } from "@mllead/bus";
import { REPO_ROOT, SERVICE_NAMES, type ServiceName } from "./services.js";

/** Where the committed NATS configuration lives: nats.conf (compose), nats-users.conf, nats-permissions.conf. */
export const NATS_INFRA_DIR = join(REPO_ROOT, "infra");

/** Where `pnpm start` and `pnpm nats:credentials` keep the local NATS credentials (mode 700; seeds 600). */
export const NATS_AUTH_DIR = join(REPO_ROOT, ".mllead", "nats-auth");

/** The operator's NATS identity (`pnpm dead`): not a service, but a user of nats-users.conf with OPS_PERMISSIONS. */
export const OPS_IDENTITY = "ops";

/** Who gets a NATS user: each service, and the operator's CLI. */
export type NatsIdentity = ServiceName | typeof OPS_IDENTITY;

/** Every NATS user mllead makes, in the order nats-users.conf lists them. */
export const NATS_IDENTITIES: readonly NatsIdentity[] = [...SERVICE_NAMES, OPS_IDENTITY];

const upper = (service: NatsIdentity) => service.toUpperCase().replace(/-/g, "_");

/** The variable nats-users.conf reads a service's public nkey from, e.g. MLLEAD_NATS_TECH_LEAD_NKEY. */
export const nkeyVariable = (service: NatsIdentity) => `MLLEAD_NATS_${upper(service)}_NKEY`;

/** The variable a password config reads a service's password from, e.g. MLLEAD_NATS_TECH_LEAD_PASSWORD. */
export const passwordVariable = (service: NatsIdentity) => `MLLEAD_NATS_${upper(service)}_PASSWORD`;

/** The permission set of a service in nats-permissions.conf, e.g. TECH_LEAD_PERMISSIONS. */
export const permissionsVariable = (service: NatsIdentity) => `${upper(service)}_PERMISSIONS`;

/** One user per service, as nkeys (the shipped setup) or as user names with passwords (your own server). */
export interface NatsUsers {
  kind: "nkeys" | "passwords";
  /** The nats-server's environment: what nats-users.conf (or the password config) reads. */
  serverEnv: Record<string, string>;
  /** A service's NATS variables: NATS_CREDS (its seed file) or NATS_USER/NATS_PASSWORD. */
  serviceEnv(service: NatsIdentity): Record<string, string>;
}

/** Writes a secret file readable by its owner only (the directory too). */
async function writePrivate(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await chmod(dirname(path), 0o700);
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}

/**
 * The services' nkeys, and the operator's (`ops.nk`, for `pnpm dead`), in `dir`: `<service>.nk` holds a service's seed (mode 600, its NATS_CREDS), and
 * `nats.env` the public keys for the server (docker compose's env_file). Seeds already there are kept
 * (a restart does not lock out a running service); missing ones are made.
 */
export async function ensureNkeyUsers(dir: string = NATS_AUTH_DIR): Promise<NatsUsers> {
  const users = new Map<NatsIdentity, NkeyUser>();
  for (const service of NATS_IDENTITIES) {
    const file = join(dir, `${service}.nk`);
    let user: NkeyUser;
    if (existsSync(file)) {
      user = nkeyUserFromSeed(await readFile(file, "utf8"));
      await chmod(file, 0o600);
    } else {
      user = createNkeyUser();
      await writePrivate(file, `${user.seed}\n`);
    }
    users.set(service, user);
  }
  const serverEnv = Object.fromEntries(NATS_IDENTITIES.map((s) => [nkeyVariable(s), users.get(s)?.publicKey ?? ""]));
  const envFile = [
    "# Public nkeys of the mllead services, read by infra/nats-users.conf (not secret). Made by pnpm start / nats:credentials.",
    ...Object.entries(serverEnv).map(([k, v]) => `${k}=${v}`),
    "",
  ].join("\n");
  await writePrivate(join(dir, "nats.env"), envFile);
  return {
    kind: "nkeys",
    serverEnv,
    serviceEnv: (service) => ({ NATS_CREDS: join(dir, `${service}.nk`) }),
  };
}

/** Users with random passwords (for a server configured with user names and passwords; see `natsServerConfig`). */
export function passwordUsers(): NatsUsers {
  const passwords = new Map(NATS_IDENTITIES.map((s) => [s, randomBytes(24).toString("hex")]));
  return {
    kind: "passwords",
    serverEnv: Object.fromEntries(NATS_IDENTITIES.map((s) => [passwordVariable(s), `p${passwords.get(s)}`])),
    serviceEnv: (service) => ({ NATS_USER: service, NATS_PASSWORD: `p${passwords.get(service)}` }),
  };
}

/** Where and how a local nats-server runs. */
export interface LocalNatsOptions {
  /** The config file to write; includes are relative to it, so it may live anywhere on this machine. */
  file: string;
  host: string;
  port: number;
  storeDir: string;
  users: NatsUsers["kind"];
}

/**
 * A nats-server config for a local server: listens on host:port (no monitoring port), JetStream in
 * `storeDir`, and the mllead users — the shipped nkey users of infra/nats-users.conf, or password users
 * with the same permission sets (infra/nats-permissions.conf). Written to `file` (mode 600).
 */
export async function writeNatsServerConfig(opts: LocalNatsOptions): Promise<void> {
  const include = (name: string) => JSON.stringify(relative(dirname(opts.file), join(NATS_INFRA_DIR, name)));
  const users =
    opts.users === "nkeys"
      ? [`include ${include("nats-users.conf")}`]
      : [
          `include ${include("nats-permissions.conf")}`,
          "authorization {",
          "  users = [",
          ...NATS_IDENTITIES.map(
            (s) => `    { user: "${s}", password: $${passwordVariable(s)}, permissions: $${permissionsVariable(s)} }`,
          ),
          "  ]",
          "}",
        ];
  const text = [
    "# Made by mllead for a local nats-server; rewritten at every start.",
    `listen: ${JSON.stringify(`${opts.host}:${opts.port}`)}`,
    `jetstream { store_dir: ${JSON.stringify(opts.storeDir)} }`,
    "max_payload: 1MB",
    ...users,
    "",
  ].join("\n");
  await writePrivate(opts.file, text);
}

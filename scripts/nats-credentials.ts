/**
 * `pnpm nats:credentials`: makes (or keeps) one NATS nkey per service (and `ops`, the operator's CLI) in .mllead/nats-auth/ — each
 * service's seed in `<service>.nk` (mode 600: its secret, its NATS_CREDS) and the public keys in
 * `nats.env` (what infra/nats-users.conf lets in). docker compose mounts both; `pnpm start` uses them too.
 */
import { relative } from "node:path";
import { ensureNkeyUsers, NATS_AUTH_DIR, NATS_IDENTITIES } from "@mllead/tools/nats-auth";
import { REPO_ROOT } from "@mllead/tools/services";

const users = await ensureNkeyUsers();
const dir = relative(REPO_ROOT, NATS_AUTH_DIR);
process.stdout.write(
  [
    `NATS credentials in ${dir}/ (existing seeds are kept):`,
    ...NATS_IDENTITIES.map(
      (s) => `  ${s}: seed ${dir}/${s}.nk (secret, NATS_CREDS)${s === "ops" ? " — the operator's, for pnpm dead" : ""}`,
    ),
    `  server: ${dir}/nats.env (public keys: ${Object.keys(users.serverEnv).join(", ")})`,
    "To replace a key, delete its .nk file, run this again and restart NATS and that service.",
    "",
  ].join("\n"),
);

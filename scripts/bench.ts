/**
 * `pnpm bench`: runs every benchmark script that exists, one after another, each in its own
 * process (they start their own nats-server, services and sandbox): `scripts/bench-*.ts`, in name
 * order. `pnpm bench slack-limits plan-latency` runs only those. Exits non-zero if one failed.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((f) => /^bench-[a-z0-9-]+\.ts$/.test(f))
  .filter((f) => only.length === 0 || only.includes(f.slice("bench-".length, -".ts".length)))
  .sort();
if (scripts.length === 0) {
  process.stderr.write(`no benchmark matches ${only.join(", ")}\n`);
  process.exit(2);
}
let failed = 0;
for (const file of scripts) {
  process.stdout.write(`\n=== ${file} ===\n`);
  const run = spawnSync(process.execPath, ["--import", "tsx", join(here, file)], { stdio: "inherit", env: process.env });
  if (run.status !== 0) {
    failed++;
    process.stderr.write(`${file} exited with ${run.status ?? run.signal}\n`);
  }
}
process.exit(failed ? 1 : 0);

#!/usr/bin/env node
// `npm start` / `npm test` on a machine that has only Node.js and git: finds pnpm (the version pinned in
// package.json's `packageManager`), or installs that version into .mllead/tools with npm, installs the
// workspace's dependencies when they are missing or older than the lockfile, then runs the command.
// Plain JavaScript on purpose: it runs before any dependency exists.
//
//   node scripts/bootstrap.mjs               make sure pnpm and the dependencies are there, print pnpm's path
//   node scripts/bootstrap.mjs start [args]  … then `tsx scripts/dev.ts [args]`
//   node scripts/bootstrap.mjs test [args]   … then `vitest run [args]`
//   node scripts/bootstrap.mjs tsx <file>    … then `tsx <file>` (e.g. `npm run nats:credentials`)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TOOLS = join(ROOT, ".mllead", "tools");
const WANTED = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).packageManager.replace(/^pnpm@/, "");
const COMMANDS = {
  start: ["tsx", "scripts/dev.ts"],
  test: ["vitest", "run"],
  /** Any other script of the project, e.g. `tsx scripts/nats-credentials.ts`. */
  tsx: ["tsx"],
};

// What installs print goes to stderr: stdout carries only pnpm's path (`pnpm="$(node scripts/bootstrap.mjs)"`).
const QUIET_STDOUT = ["inherit", 2, "inherit"];

const say = (line) => process.stderr.write(`${line}\n`);

function fail(message) {
  say(`mllead: ${message}`);
  process.exit(1);
}

/** The version `bin --version` prints, or null when it does not run. */
function versionOf(bin) {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8", shell: process.platform === "win32" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A pnpm of the pinned major version: on PATH, in .mllead/tools, or installed there now with npm. */
function findPnpm() {
  const major = WANTED.split(".")[0];
  const local = join(TOOLS, "node_modules", ".bin", process.platform === "win32" ? "pnpm.cmd" : "pnpm");
  for (const bin of ["pnpm", local]) {
    const v = versionOf(bin);
    if (v && v.split(".")[0] === major) return bin;
  }
  say(`mllead: installing pnpm ${WANTED} into .mllead/tools (once) …`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(
    npm,
    ["install", "--prefix", TOOLS, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", `pnpm@${WANTED}`],
    { stdio: QUIET_STDOUT, shell: process.platform === "win32" },
  );
  if (r.status !== 0 || !versionOf(local))
    fail(`could not install pnpm ${WANTED} with npm (exit ${r.status}); install it yourself: npm install -g pnpm@${WANTED}`);
  return local;
}

/** True when node_modules is missing or older than the lockfile or a package.json. */
function needsInstall() {
  const marker = join(ROOT, "node_modules", ".modules.yaml");
  if (!existsSync(marker)) return true;
  const installed = statSync(marker).mtimeMs;
  return statSync(join(ROOT, "pnpm-lock.yaml")).mtimeMs > installed;
}

function run(bin, args, env = process.env) {
  const r = spawnSync(bin, args, { cwd: ROOT, stdio: QUIET_STDOUT, env, shell: process.platform === "win32" });
  if (r.error) fail(`${bin} ${args[0]}: ${r.error.message}`);
  return r.status ?? 1;
}

const [command, ...rest] = process.argv.slice(2);
if (command !== undefined && !(command in COMMANDS))
  fail(`unknown command '${command}' (known: ${Object.keys(COMMANDS).join(", ")})`);

const pnpm = findPnpm();
if (needsInstall()) {
  const status = run(pnpm, ["install", "--frozen-lockfile"]);
  if (status !== 0) fail(`pnpm install failed (exit ${status})`);
}
if (command === undefined) {
  process.stdout.write(`${pnpm === "pnpm" ? "pnpm" : pnpm}\n`);
  process.exit(0);
}
// Scripts started from here (and their children) find the same pnpm. The command runs straight from
// node_modules/.bin, with no package manager in between to swallow or re-send the terminal's signals.
const env = { ...process.env, PATH: [join(TOOLS, "node_modules", ".bin"), process.env.PATH ?? ""].join(delimiter) };
const [bin, ...fixed] = COMMANDS[command];
const child = spawn(join(ROOT, "node_modules", ".bin", process.platform === "win32" ? `${bin}.cmd` : bin), [...fixed, ...rest], {
  cwd: ROOT,
  stdio: "inherit",
  env,
  shell: process.platform === "win32",
});
// Ctrl-C reaches the child from the terminal itself; wait for it to stop its services instead of leaving it behind.
process.on("SIGINT", () => undefined);
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("error", (err) => fail(`${bin}: ${err.message}`));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));

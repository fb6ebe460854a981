import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, statSync, utimesSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { REPO_ROOT } from "./services.js";

/** The root solution that `pnpm build` (`tsc -b`) builds: every package and service, with their references. */
export const BUILD_CONFIG = "tsconfig.build.json";

/** The projects of the build, relative to `root` (the references of its tsconfig.build.json). */
export function buildProjects(root = REPO_ROOT): string[] {
  const solution = JSON.parse(readFileSync(join(root, BUILD_CONFIG), "utf8")) as { references: { path: string }[] };
  return solution.references.map((r) => r.path.replace(/^\.\//, ""));
}

/** What the package tsconfigs leave out of a build: unit tests and test-only modules. */
const NOT_BUILT = /\.test\.ts$|\/src\/testing(\/|\.ts$)/;

/** The newest modification time (ms) of a source the build compiles under `dir` (recursively), 0 when there is none. */
function newestUnder(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = join(entry.parentPath, entry.name);
    if (!entry.isFile() || !/\.(ts|js)$/.test(entry.name) || NOT_BUILT.test(file)) continue;
    newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

function mtimeOr(file: string, fallback: number): number {
  try {
    return statSync(file).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return fallback;
    throw err;
  }
}

/**
 * Each project's `dist/` holds this file after a successful `build`, dated when that build started: a source
 * changed while tsc ran is newer, so the next `build` runs tsc again (tsc's own tsbuildinfo is left alone).
 */
const BUILT_MARK = ".built-from";

function markBuilt(root: string, project: string, startedAtMs: number): void {
  const file = join(root, project, "dist", BUILT_MARK);
  closeSync(openSync(file, "w"));
  utimesSync(file, startedAtMs / 1000, startedAtMs / 1000);
}

/**
 * The projects whose `dist/` is missing or older than their sources (the .ts and .js files under `src/` but the
 * tests, their tsconfig.json or package.json, or the shared tsconfig.base.json).
 */
export function staleProjects(root = REPO_ROOT): string[] {
  const base = mtimeOr(join(root, "tsconfig.base.json"), 0);
  return buildProjects(root).filter((project) => {
    const dir = join(root, project);
    const built = mtimeOr(join(dir, "dist", BUILT_MARK), -1);
    if (built < 0) return true;
    const inputs = Math.max(
      base,
      newestUnder(join(dir, "src")),
      mtimeOr(join(dir, "tsconfig.json"), 0),
      mtimeOr(join(dir, "package.json"), 0),
    );
    return inputs > built;
  });
}

/** What `build` did: which projects were stale, how long it took (ms) and what tsc printed. */
export interface BuildResult {
  built: string[];
  ms: number;
  output: string;
}

/**
 * `tsc -b tsconfig.build.json` when a project's `dist/` is missing or older than its sources (`force`: always).
 * tsc -b is incremental: only the stale projects and those that depend on them are compiled again. Rejects with
 * tsc's output when the build reports errors: a tree that does not typecheck is not run in production.
 */
export async function build(
  opts: { force?: boolean; onLine?: (line: string) => void; root?: string } = {},
): Promise<BuildResult> {
  const root = opts.root ?? REPO_ROOT;
  const stale = opts.force ? buildProjects(root) : staleProjects(root);
  if (stale.length === 0) return { built: [], ms: 0, output: "" };
  const started = performance.now();
  const startedAt = Date.now();
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const child = spawn(process.execPath, [tsc, "-b", join(root, BUILD_CONFIG)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const onData = (d: Buffer) => {
    output += d.toString();
    for (const line of d.toString().split("\n")) if (line.trim()) opts.onLine?.(line);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`the build failed (tsc -b exited with ${code}):\n${output.trim()}`);
  for (const project of buildProjects(root)) markBuilt(root, project, startedAt);
  return { built: stale, ms: Math.round(performance.now() - started), output };
}

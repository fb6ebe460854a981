import { open, readdir, realpath, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { MISSING, onCode } from "./errno.js";
import { inspectPythonEnv, type PythonEnvGuard, type PythonEnvKind, sitePackagesOf } from "./python-env.js";

/** One installed distribution, as its metadata names it. */
export interface PythonPackage {
  name: string;
  version: string;
}

/** What a model (and the planner's scout) is told about the Python that commands and jobs run. */
export interface PythonEnvDescription {
  /** `system`: no MLLEAD_PYTHON_ENV; commands get the host's python3 from the system dirs. */
  kind: PythonEnvKind | "system";
  /** The interpreter's path inside the sandbox (the same as on the host). */
  interpreter: string;
  /** The environment's directory; unset for `system`. */
  dir?: string;
  /** e.g. `3.11.2`, or `3.11` where only the file names say. */
  version?: string;
  /** The ML-relevant packages found (`KEY_PYTHON_PACKAGES`), the environment's own before its base's. */
  packages: PythonPackage[];
  /** Other packages installed in the environment itself (not its base), sorted, at most `MAX_OTHER_PACKAGES`. */
  otherPackages: PythonPackage[];
  /** How many of those were left out of `otherPackages`. */
  moreOtherPackages: number;
}

/** The packages worth naming to a data scientist, wherever they are installed (names as PyPI normalises them). */
export const KEY_PYTHON_PACKAGES = [
  "numpy",
  "pandas",
  "polars",
  "pyarrow",
  "scipy",
  "scikit-learn",
  "torch",
  "torchvision",
  "jax",
  "tensorflow",
  "xgboost",
  "lightgbm",
  "catboost",
  "matplotlib",
  "seaborn",
  "pandera",
  "great-expectations",
  "optuna",
  "mlflow",
  "wandb",
  "transformers",
  "datasets",
  "pytest",
  "ruff",
  "pyflakes",
  "mypy",
] as const;

/** Other packages of the environment itself named at most (a torch env has a hundred `nvidia-*` and the like). */
export const MAX_OTHER_PACKAGES = 40;

/** Packaging tools every venv has: noise in a description. */
const TOOLING = new Set(["pip", "setuptools", "wheel", "distribute"]);
const KEY = new Set<string>(KEY_PYTHON_PACKAGES);
const METADATA_BYTES = 16 * 1024;
const MAX_ENTRIES = 10_000;

/** PEP 503's normal form: lowercase, runs of `-`, `_`, `.` as one `-`. */
export function normalizePackageName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/** Name and Version of a core-metadata header block (METADATA, PKG-INFO); null when either is missing. */
export function parseCoreMetadata(text: string): PythonPackage | null {
  const head = text.split(/\r?\n\r?\n/, 1)[0] ?? "";
  const name = /^Name:[ \t]*(\S+)/m.exec(head)?.[1];
  const version = /^Version:[ \t]*(\S+)/m.exec(head)?.[1];
  return name && version ? { name, version } : null;
}

/** The start of a regular file (never a FIFO or device, which could block or never end). */
async function readHead(path: string): Promise<string | null> {
  const st = await stat(path).catch(onCode(MISSING, null));
  if (!st?.isFile()) return null;
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(Math.min(METADATA_BYTES, st.size));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString("utf8");
  } finally {
    await fh.close();
  }
}

/** The distributions in one site-packages directory, from `*.dist-info/METADATA` and `*.egg-info` (PKG-INFO). */
async function packagesIn(site: string): Promise<PythonPackage[]> {
  const entries = (await readdir(site).catch(onCode<string[]>(MISSING, []))).slice(0, MAX_ENTRIES);
  const out: PythonPackage[] = [];
  for (const e of entries.sort()) {
    const m = /^(.+?)-([^-]+?)\.(dist-info|egg-info)$/.exec(e);
    if (!m) continue;
    const path = join(site, e);
    const isDir = (await stat(path).catch(onCode(MISSING, null)))?.isDirectory();
    const file = m[3] === "dist-info" ? join(path, "METADATA") : isDir ? join(path, "PKG-INFO") : path;
    const meta = parseCoreMetadata((await readHead(file)) ?? "");
    out.push(meta ?? { name: m[1] as string, version: m[2] as string });
  }
  return out;
}

/**
 * Installed packages of `sites` in order, one per normalised name (the first wins, as on sys.path).
 * Reads metadata files only; nothing of the environment runs.
 */
export async function readInstalledPackages(sites: readonly string[]): Promise<Map<string, PythonPackage>> {
  const out = new Map<string, PythonPackage>();
  for (const site of sites) {
    for (const p of await packagesIn(site)) {
      const key = normalizePackageName(p.name);
      if (!out.has(key)) out.set(key, p);
    }
  }
  return out;
}

function keyPackages(found: Map<string, PythonPackage>): PythonPackage[] {
  return KEY_PYTHON_PACKAGES.flatMap((k) => {
    const p = found.get(k);
    return p ? [p] : [];
  });
}

/** The host's python3 in the system dirs (what a sandbox without MLLEAD_PYTHON_ENV runs), or null. */
async function describeSystemPython(): Promise<PythonEnvDescription | null> {
  for (const interpreter of ["/usr/local/bin/python3", "/usr/bin/python3"]) {
    const real = await realpath(interpreter).catch(onCode(MISSING, null));
    if (!real) continue;
    const version = /^python(\d+\.\d+)$/.exec(basename(real))?.[1];
    const prefix = dirname(dirname(real));
    const found = await readInstalledPackages(await sitePackagesOf(prefix, version));
    return {
      kind: "system",
      interpreter,
      ...(version ? { version } : {}),
      packages: keyPackages(found),
      otherPackages: [],
      moreOtherPackages: 0,
    };
  }
  return null;
}

/**
 * What commands run as Python, for prompts and the planner's scout: the interpreter, its version and
 * its key packages with versions. With `dir` (MLLEAD_PYTHON_ENV) the team's environment, checked as
 * `inspectPythonEnv` does (throws `PythonEnvError`); also its base's packages when the venv includes
 * them. Without, the host's python3 in the system dirs, or null when there is none. Only metadata files
 * are read: nothing of the environment runs. `version` is what the environment's files say; the
 * services replace it with what the interpreter printed in the sandbox at start.
 */
export async function describePythonEnv(dir?: string, guard: PythonEnvGuard = {}): Promise<PythonEnvDescription | null> {
  if (dir === undefined) return describeSystemPython();
  const env = await inspectPythonEnv(dir, guard);
  const own = await readInstalledPackages(env.sitePackages);
  const all = await readInstalledPackages([...env.sitePackages, ...env.systemSitePackages]);
  const others = [...own.entries()]
    .filter(([k]) => !KEY.has(k) && !TOOLING.has(k))
    .map(([, p]) => p)
    .sort((a, b) => normalizePackageName(a.name).localeCompare(normalizePackageName(b.name)));
  return {
    kind: env.kind,
    interpreter: env.interpreter,
    dir: env.dir,
    ...(env.version ? { version: env.version } : {}),
    packages: keyPackages(all),
    otherPackages: others.slice(0, MAX_OTHER_PACKAGES),
    moreOtherPackages: Math.max(0, others.length - MAX_OTHER_PACKAGES),
  };
}

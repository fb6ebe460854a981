import { existsSync } from "node:fs";
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { SYSTEM_PATHS } from "./bwrap-args.js";
import { MISSING, onCode } from "./errno.js";
import { PythonEnvError } from "./errors.js";

/** The variable both the specialist-agent and the gpu-runner read the team's environment from. */
export const PYTHON_ENV_VAR = "MLLEAD_PYTHON_ENV";

/** `venv` (python -m venv, virtualenv), `uv` (a venv made by uv), `conda` (conda, mamba, micromamba, pixi). */
export type PythonEnvKind = "venv" | "uv" | "conda";

/** A team's Python environment as sandboxed commands see it: what to mount and which variables to set. */
export interface PythonEnv {
  /** The environment's directory, absolute (as configured; mounted at this path). */
  dir: string;
  kind: PythonEnvKind;
  /** `<dir>/bin`: first on PATH inside. */
  bin: string;
  /** `<dir>/bin/python`: the interpreter to use. */
  interpreter: string;
  /** Version from the environment's own files (pyvenv.cfg, conda-meta, lib/pythonX.Y), when they say. */
  version?: string;
  /** A venv's base installation (the parent of pyvenv.cfg's `home`); unset for conda. */
  basePrefix?: string;
  /** Read-only mounts sandboxed commands need: the environment, and its base installation when outside the system dirs. */
  mounts: string[];
  /** `VIRTUAL_ENV` (venv, uv) or `CONDA_PREFIX` (conda), set inside. */
  vars: Record<string, string>;
  /** The environment's own site-packages directories. */
  sitePackages: string[];
  /** The base installation's site-packages, when the venv includes them (`include-system-site-packages = true`). */
  systemSitePackages: string[];
}

/** Where the environment may not lie, and the home whose files must stay hidden. */
export interface PythonEnvGuard {
  /** The service's HOME: neither the environment nor its base may be it or contain it (its credentials). */
  home?: string | undefined;
  /** Directories steps write in (worktrees, state, job dirs): the environment and its base may not overlap them. */
  protect?: readonly string[];
}

const fail = (dir: string, why: string, cause?: unknown): PythonEnvError =>
  new PythonEnvError(`${PYTHON_ENV_VAR}='${dir}' ${why}`, cause === undefined ? undefined : { cause });

/** `key = value` lines of a pyvenv.cfg, keys lowercased. */
export function parsePyvenvCfg(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1].toLowerCase(), m[2]);
  }
  return out;
}

function isUnder(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** True when every sandbox sees `p` already: it lies in the host's system dirs (bound read-only by bubblewrap). */
export function inSystemDirs(p: string): boolean {
  return SYSTEM_PATHS.some((s) => isUnder(s, p));
}

/** `lib/python3.X` directories of a prefix, newest name last. */
async function libDirs(prefix: string): Promise<string[]> {
  const names = await readdir(join(prefix, "lib")).catch(onCode<string[]>(MISSING, []));
  return names.filter((n) => /^python3\.\d+$/.test(n)).sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)));
}

/** The site-packages directories of an environment or installation prefix that exist. */
export async function sitePackagesOf(prefix: string, pyVersion?: string): Promise<string[]> {
  const xy = pyVersion ? /^(\d+\.\d+)/.exec(pyVersion)?.[1] : undefined;
  const libs = xy ? [`python${xy}`] : await libDirs(prefix);
  // In sys.path's order. Debian's layout: pip's packages in local/lib/python3.X/dist-packages, apt's in lib/python3/dist-packages.
  const candidates = [
    ...libs.map((l) => join(prefix, "local", "lib", l, "dist-packages")),
    ...libs.map((l) => join(prefix, "lib", l, "site-packages")),
    join(prefix, "lib", "python3", "dist-packages"),
    ...libs.map((l) => join(prefix, "lib", l, "dist-packages")),
  ];
  const out: string[] = [];
  for (const c of candidates) if ((await stat(c).catch(onCode(MISSING, null)))?.isDirectory()) out.push(c);
  return out;
}

/**
 * Refuses a mount that would show model-driven commands more than a Python installation: the root, the
 * service's HOME or a directory above it (its credentials), or anything overlapping a directory steps
 * write in (there a step could plant the interpreter every later command runs).
 */
async function checkMountable(dir: string, what: string, path: string, guard: PythonEnvGuard): Promise<void> {
  const real = await realpath(path);
  if (real === "/") throw fail(dir, `${what} is the root directory: it cannot be mounted into the sandbox`);
  if (guard.home) {
    const home = await realpath(guard.home).catch(onCode(MISSING, resolve(guard.home)));
    if (isUnder(real, home))
      throw fail(
        dir,
        `${what} ${real} is the service's HOME or contains it: mounting it would show its credentials to every command. Use an environment (and a base Python) in a directory of its own, e.g. /opt/venvs/team`,
      );
  }
  for (const p of guard.protect ?? []) {
    const prot = await realpath(p).catch(onCode(MISSING, resolve(p)));
    if (isUnder(prot, real) || isUnder(real, prot))
      throw fail(
        dir,
        `${what} ${real} overlaps ${prot}, where steps or jobs write: one could change the interpreter every later command runs. Put the environment outside mllead's state, workspace and jobs directories`,
      );
  }
}

async function versionOf(dir: string, kind: PythonEnvKind, cfg: Map<string, string>): Promise<string | undefined> {
  const fromCfg = cfg.get("version_info") ?? cfg.get("version");
  if (fromCfg && /^\d+\.\d+/.test(fromCfg)) return /^\d+\.\d+(\.\d+)?/.exec(fromCfg)?.[0];
  if (kind === "conda") {
    const meta = await readdir(join(dir, "conda-meta")).catch(onCode<string[]>(MISSING, []));
    const py = meta.map((n) => /^python-(\d+\.\d+\.\d+)-.*\.json$/.exec(n)?.[1]).find(Boolean);
    if (py) return py;
  }
  return (await libDirs(dir)).at(-1)?.slice("python".length);
}

/**
 * Reads a venv, uv or conda environment from its files, without running anything in it: its kind,
 * interpreter, version, site-packages, what a sandbox must mount read-only and the variables to set.
 * A venv's `bin/python` is a link to a base installation (pyvenv.cfg's `home`): the base is mounted too
 * unless it lies in the system dirs, and refused where mounting it would expose HOME or overlap `guard.protect`.
 * Throws `PythonEnvError` naming MLLEAD_PYTHON_ENV and what is wrong.
 */
export async function inspectPythonEnv(configured: string, guard: PythonEnvGuard = {}): Promise<PythonEnv> {
  if (!isAbsolute(configured)) throw fail(configured, "is not an absolute path");
  const dir = resolve(configured);
  const st = await stat(dir).catch((err: unknown) => {
    throw fail(dir, "does not exist", err);
  });
  if (!st.isDirectory()) throw fail(dir, "is not a directory");
  const bin = join(dir, "bin");
  const interpreter = join(bin, "python");
  const real = await realpath(interpreter).catch((err: unknown) => {
    throw fail(dir, `has no bin/python (or it is a broken link): point it at a venv, conda or uv environment`, err);
  });

  const cfgText = await readFile(join(dir, "pyvenv.cfg"), "utf8").catch(onCode(MISSING, null));
  const isConda = existsSync(join(dir, "conda-meta"));
  if (cfgText === null && !isConda)
    throw fail(dir, "is not a venv, conda or uv environment: it has neither pyvenv.cfg nor conda-meta/");
  const cfg = parsePyvenvCfg(cfgText ?? "");
  const kind: PythonEnvKind = cfgText === null ? "conda" : cfg.has("uv") ? "uv" : "venv";
  await checkMountable(dir, "the environment", dir, guard);

  const mounts = [dir];
  let basePrefix: string | undefined;
  if (cfgText !== null) {
    const home = cfg.get("home");
    if (!home || !isAbsolute(home))
      throw fail(dir, "has a pyvenv.cfg without an absolute `home =` (the base interpreter's bin directory)");
    basePrefix = basename(home) === "bin" ? dirname(resolve(home)) : resolve(home);
    const baseReal = await realpath(basePrefix).catch((err: unknown) => {
      throw fail(dir, `names a base Python at ${home} (pyvenv.cfg home) that does not exist`, err);
    });
    if (!inSystemDirs(basePrefix) || !inSystemDirs(baseReal)) {
      if ((await libDirs(baseReal)).length === 0)
        throw fail(
          dir,
          `names ${basePrefix} as its base Python (pyvenv.cfg home), which does not look like a Python installation (no lib/python3.X)`,
        );
      await checkMountable(dir, "its base Python", basePrefix, guard);
      mounts.push(basePrefix);
    }
  }
  const visible = [dir, ...(mounts[1] ? [await realpath(mounts[1])] : []), await realpath(dir)];
  if (!inSystemDirs(real) && !visible.some((m) => isUnder(m, real)))
    throw fail(
      dir,
      `has bin/python pointing at ${real}, outside the environment, its base Python (pyvenv.cfg home) and the system dirs: the sandbox would not see it`,
    );

  const version = await versionOf(dir, kind, cfg);
  const systemSite = cfg.get("include-system-site-packages")?.toLowerCase() === "true" && basePrefix !== undefined;
  return {
    dir,
    kind,
    bin,
    interpreter,
    ...(version ? { version } : {}),
    ...(basePrefix ? { basePrefix } : {}),
    mounts,
    vars: kind === "conda" ? { CONDA_PREFIX: dir } : { VIRTUAL_ENV: dir },
    sitePackages: await sitePackagesOf(dir),
    systemSitePackages: systemSite && basePrefix ? await sitePackagesOf(basePrefix, version) : [],
  };
}

/**
 * The variables a command runs with in the environment: `base` with the environment's `bin` first on
 * PATH and VIRTUAL_ENV or CONDA_PREFIX set. `base` is already the allow-listed environment (`sandboxEnv`).
 */
export function pythonEnvVars(
  env: Pick<PythonEnv, "bin" | "vars">,
  base: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const path = base.PATH ? `${env.bin}:${base.PATH}` : `${env.bin}:/usr/local/bin:/usr/bin:/bin`;
  return { ...env.vars, PATH: path };
}

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mergeEnv } from "./env.js";
import { PythonEnvError } from "./errors.js";
import { inspectPythonEnv, PYTHON_ENV_VAR, type PythonEnv, type PythonEnvGuard, pythonEnvVars } from "./python-env.js";
import { describePythonEnv, type PythonEnvDescription } from "./python-packages.js";
import type { Sandbox } from "./sandbox.js";

/** The team's environment, checked under the real sandbox, with what to tell the model about it. */
export interface OpenedPythonEnv {
  env: PythonEnv;
  /** `version` is what the interpreter printed inside the sandbox. */
  description: PythonEnvDescription;
  /** `sys.version` as printed inside the sandbox. */
  sysVersion: string;
}

/** How long the start check's `python -c` may take (s): an interpreter on a cold network filesystem is slow. */
const CHECK_TIMEOUT_SEC = 60;

/**
 * Opens MLLEAD_PYTHON_ENV for a service at start: reads it (`inspectPythonEnv`, `describePythonEnv`),
 * then runs `python -c 'import sys; print(sys.version)'` once in `sandbox` exactly as commands and jobs
 * will (the environment and its base mounted read-only, its bin first on PATH, VIRTUAL_ENV or
 * CONDA_PREFIX set, no network). Throws `PythonEnvError` naming the variable when any of it fails.
 */
export async function openPythonEnv(
  dir: string,
  sandbox: Sandbox,
  opts: { baseEnv: Readonly<Record<string, string | undefined>>; guard?: PythonEnvGuard },
): Promise<OpenedPythonEnv> {
  const env = await inspectPythonEnv(dir, opts.guard);
  const description = await describePythonEnv(dir, opts.guard);
  if (!description) throw new PythonEnvError(`${PYTHON_ENV_VAR}='${dir}' could not be described`);
  const work = await mkdtemp(join(tmpdir(), "mllead-python-check-"));
  try {
    const res = await sandbox.run({
      argv: ["python", "-c", "import sys; print(sys.version)"],
      policy: { workdir: work, readOnly: env.mounts, network: false, limits: {} },
      cwd: work,
      env: mergeEnv(opts.baseEnv, pythonEnvVars(env, opts.baseEnv)),
      timeoutMs: CHECK_TIMEOUT_SEC * 1000,
      maxOutputBytes: 8 * 1024,
    });
    const sysVersion = res.stdout.trim().split("\n")[0] ?? "";
    if (res.exitCode !== 0 || !/^\d+\.\d+/.test(sysVersion)) {
      const said = (res.stderr.trim() || res.stdout.trim()).split("\n").slice(-5).join(" | ").slice(0, 800);
      const how = res.timedOut ? `timed out after ${CHECK_TIMEOUT_SEC} s` : `exited with code ${res.exitCode}`;
      throw new PythonEnvError(
        `${PYTHON_ENV_VAR}='${env.dir}': \`python -c 'import sys; print(sys.version)'\` does not run in the ${sandbox.kind} sandbox (${how}${said ? `: ${said}` : ""}). ` +
          "The environment and its base Python must run from their own directories, read-only, without the network",
      );
    }
    const version = /^\d+\.\d+\.\d+/.exec(sysVersion)?.[0] ?? description.version;
    return { env, description: { ...description, ...(version ? { version } : {}) }, sysVersion };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

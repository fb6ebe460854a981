import { type PythonEnv, pythonEnvVars, sandboxEnv } from "@mllead/sandbox";

/** Variables the runner sets for every job; a job's own `env` cannot override them. */
export interface RunnerJobVars {
  CUDA_VISIBLE_DEVICES: string;
  MLLEAD_ARTIFACTS_DIR: string;
  MLLEAD_JOB_ID: string;
}

/**
 * Names a job's own `env` (chosen by the model) may not set: the runner's own and every
 * `MLLEAD_*`, which are mllead's. `MLLEAD_JOB_ID` is also what the orphan reaper looks for
 * on the host (see orphans.ts), so a job must never be able to name another job's id.
 */
export function isReservedJobEnvName(name: string): boolean {
  return name.startsWith("MLLEAD_") || name === "CUDA_VISIBLE_DEVICES" || name === "PYTHONUNBUFFERED";
}

/**
 * The environment a job runs with: of the runner's host environment only PATH, HOME,
 * TMPDIR, LANG, LANGUAGE, `LC_*` and the names in `pass` (MLLEAD_SANDBOX_ENV), see
 * `sandboxEnv`; a PATH when the host has none; the team's Python environment (MLLEAD_PYTHON_ENV) when
 * given: its bin first on PATH and VIRTUAL_ENV or CONDA_PREFIX; then the job's own `env` without reserved
 * names (`isReservedJobEnvName`); then the runner's variables and `PYTHONUNBUFFERED=1`,
 * so progress lines arrive live.
 */
export function buildJobEnv(
  host: Readonly<Record<string, string | undefined>>,
  jobEnv: Readonly<Record<string, string>>,
  vars: RunnerJobVars,
  pass: readonly string[] = [],
  python?: Pick<PythonEnv, "bin" | "vars">,
): Record<string, string> {
  const env = sandboxEnv(host, pass);
  if (!env.PATH) env.PATH = "/usr/local/bin:/usr/bin:/bin";
  if (python) Object.assign(env, pythonEnvVars(python, env));
  for (const [k, v] of Object.entries(jobEnv)) if (!isReservedJobEnvName(k)) env[k] = v;
  return { ...env, PYTHONUNBUFFERED: "1", ...vars };
}

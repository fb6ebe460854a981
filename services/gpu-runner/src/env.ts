import { isSecretName } from "@mllead/sandbox";

/** Host variables a job may inherit: enough to find programs, libraries and caches, nothing else. */
export const JOB_ENV_ALLOW = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TMPDIR",
  "TERM",
  "LD_LIBRARY_PATH",
  "CUDA_HOME",
  "CUDA_PATH",
  "VIRTUAL_ENV",
  "CONDA_PREFIX",
  "CONDA_DEFAULT_ENV",
  "PYENV_ROOT",
  "PYENV_VERSION",
  "XDG_CACHE_HOME",
  "HF_HOME",
  "TORCH_HOME",
] as const;

// Secret-looking names never reach a job from the host, even when allow-listed.
export { isSecretName };

/** Variables the runner sets for every job; a job's own `env` cannot override them. */
export interface RunnerJobVars {
  CUDA_VISIBLE_DEVICES: string;
  MLLEAD_ARTIFACTS_DIR: string;
  MLLEAD_JOB_ID: string;
}

/**
 * The environment a job runs with: the allowed host variables (plus `extraAllowed`
 * and every `LC_*`), minus anything secret-looking; then the job's own `env`; then
 * the runner's variables and `PYTHONUNBUFFERED=1`, so progress lines arrive live.
 */
export function buildJobEnv(
  host: Readonly<Record<string, string | undefined>>,
  jobEnv: Readonly<Record<string, string>>,
  vars: RunnerJobVars,
  extraAllowed: readonly string[] = [],
): Record<string, string> {
  const allow = new Set<string>([...JOB_ENV_ALLOW, ...extraAllowed]);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(host)) {
    if (v === undefined || isSecretName(k)) continue;
    if (allow.has(k) || k.startsWith("LC_")) env[k] = v;
  }
  if (!env.PATH) env.PATH = "/usr/local/bin:/usr/bin:/bin";
  for (const [k, v] of Object.entries(jobEnv)) env[k] = v;
  return { ...env, PYTHONUNBUFFERED: "1", ...vars };
}

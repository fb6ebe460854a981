/**
 * Host variables every sandboxed command and job gets: where programs are, a home and a
 * temporary directory, and the locale (`LC_*` too). Under bubblewrap HOME is the workdir
 * and TMPDIR /tmp whatever the host says.
 */
export const SANDBOX_BASE_ENV = ["PATH", "HOME", "TMPDIR", "LANG", "LANGUAGE"] as const;

/** A variable name a team may list in MLLEAD_SANDBOX_ENV (letters, digits and `_`, not starting with a digit). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The environment sandboxed commands and jobs start from, by allow-list: `SANDBOX_BASE_ENV`,
 * every `LC_*`, and the names in `pass` (what a team lists in MLLEAD_SANDBOX_ENV) — nothing
 * else of `host`. A listed name passes even when it looks like a credential: the team asked
 * for it (the services log such names at start). Unset values are dropped.
 */
export function sandboxEnv(
  host: Readonly<Record<string, string | undefined>>,
  pass: readonly string[] = [],
): Record<string, string> {
  const allow = new Set<string>([...SANDBOX_BASE_ENV, ...pass]);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(host)) {
    if (v !== undefined && (allow.has(k) || k.startsWith("LC_"))) out[k] = v;
  }
  return out;
}

/** What `sandboxEnv(host, pass)` hands on, by name only (never a value), for a service's start log. */
export interface SandboxEnvSummary {
  /** Every name commands and jobs get, sorted. */
  names: string[];
  /** Listed names that look like credentials (`isSecretName`): passed, because the team asked, but worth a warning. */
  secretLooking: string[];
  /** Listed names the service's environment does not set. */
  unset: string[];
}

/** Summarises `sandboxEnv(host, pass)` by name, for the log line a service writes at start. */
export function summarizeSandboxEnv(
  host: Readonly<Record<string, string | undefined>>,
  pass: readonly string[] = [],
): SandboxEnvSummary {
  return {
    names: Object.keys(sandboxEnv(host, pass)).sort(),
    secretLooking: pass.filter(isSecretName),
    unset: pass.filter((n) => host[n] === undefined),
  };
}

/**
 * `base` then `extra`, without unset values: the complete environment of one command.
 * Nothing is filtered here; `base` is already the allow-listed environment (`sandboxEnv`).
 */
export function mergeEnv(
  base: Readonly<Record<string, string | undefined>>,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...base, ...extra })) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * Names that look like credentials or infrastructure access: mllead's own service
 * settings and common cloud/API prefixes, or a credential word anywhere in the name.
 */
const SECRET_NAME = /^(SLACK_|ANTHROPIC_|NATS_|AWS_|GITHUB_|OPENAI_)|TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|AUTH/i;

/**
 * True when a name looks like it holds a credential (case-insensitive). Nothing is
 * filtered by it (the allow-list decides); the services warn at start when a team's
 * MLLEAD_SANDBOX_ENV hands such a name to model-driven commands.
 */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

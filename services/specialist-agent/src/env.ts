/** Prefixes of variables that belong to mllead's own services and never reach a command. */
const SECRET_PREFIXES = ["SLACK_", "ANTHROPIC_", "NATS_"];
/** Names that look like credentials wherever they appear (case-insensitive). */
const SECRET_NAME = /TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL/i;

/** True when a variable of this name must not be handed to a sandboxed command. */
export function isSecretName(name: string): boolean {
  const upper = name.toUpperCase();
  return SECRET_PREFIXES.some((p) => upper.startsWith(p)) || SECRET_NAME.test(name);
}

/**
 * The environment a command runs with: `base` and then `extra`, minus every
 * variable that could carry a secret (Slack, Anthropic and NATS settings, and
 * anything named like a token, key or password). Undefined values are dropped.
 */
export function scrubEnv(
  base: Readonly<Record<string, string | undefined>>,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...base, ...extra })) {
    if (v !== undefined && !isSecretName(k)) out[k] = v;
  }
  return out;
}

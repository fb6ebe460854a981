/**
 * Names that look like credentials or infrastructure access: mllead's own service
 * settings and common cloud/API prefixes, or a credential word anywhere in the name.
 */
const SECRET_NAME = /^(SLACK_|ANTHROPIC_|NATS_|AWS_|GITHUB_|OPENAI_)|TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|AUTH/i;

/** True when a variable of this name must not be handed to a sandboxed command (case-insensitive). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * The environment a command runs with: `base` and then `extra`, minus every
 * variable that could carry a secret (see `isSecretName`). Undefined values are dropped.
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

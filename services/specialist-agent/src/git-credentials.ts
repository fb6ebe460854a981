/** A user name and password (or token) for one host, taken out of a URL. */
export interface GitCredentials {
  /** `https`, `http`, … as git's credential protocol names it. */
  protocol: string;
  /** `host` or `host:port`, as git's credential protocol names it. */
  host: string;
  username: string;
  password: string;
}

/** A remote URL without its credentials, and the credentials it carried. */
export interface SplitUrl {
  /** The URL as git may store and print it: no user name or password in it. */
  url: string;
  credentials?: GitCredentials;
}

/** Environment names the inline helper reads; set for one git call only. */
const ENV = {
  protocol: "MLLEAD_GIT_CRED_PROTOCOL",
  host: "MLLEAD_GIT_CRED_HOST",
  username: "MLLEAD_GIT_CRED_USERNAME",
  password: "MLLEAD_GIT_CRED_PASSWORD",
} as const;

/**
 * Answers git's `get` with the credentials in the environment, only for the
 * protocol and host they were given for (a redirect elsewhere gets nothing);
 * `store` and `erase` are ignored, so nothing is written anywhere. The script
 * names variables only: the secret never appears on a command line.
 */
const HELPER = [
  "!f() {",
  'test "$1" = get || exit 0;',
  "p=; h=;",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template.
  'while IFS= read -r l; do case "$l" in protocol=*) p=${l#protocol=};; host=*) h=${l#host=};; esac; done;',
  `if [ "$p" = "$${ENV.protocol}" ] && [ "$h" = "$${ENV.host}" ]; then`,
  `printf 'username=%s\\npassword=%s\\n' "$${ENV.username}" "$${ENV.password}";`,
  "fi;",
  "}; f",
].join(" ");

/**
 * Splits `scheme://user:password@host/path` into the URL without credentials
 * and the credentials (percent-decoded). URLs without a password (ssh's
 * `git@host:path`, a path, `https://host/x`) come back unchanged.
 */
export function splitCredentials(url: string): SplitUrl {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/@]*)@([^/?#]*)(.*)$/is.exec(url);
  if (!m) return { url };
  const [, scheme = "", userinfo = "", host = "", rest = ""] = m;
  const colon = userinfo.indexOf(":");
  if (colon === -1) return { url };
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch (err) {
      // Not valid percent-encoding: git would take the text as it is, so do we.
      if (err instanceof URIError) return s;
      throw err;
    }
  };
  return {
    url: `${scheme}://${host}${rest}`,
    credentials: {
      // As git will name them when it asks: the URL's own spelling.
      protocol: scheme,
      host,
      username: decode(userinfo.slice(0, colon)),
      password: decode(userinfo.slice(colon + 1)),
    },
  };
}

/**
 * The `-c` options and environment that hand `credentials` to one git command:
 * every configured credential helper is reset (none may store them) and an
 * inline helper answers from the environment. Without credentials, helpers are
 * still reset so nothing is stored or asked.
 */
export function credentialOptions(credentials?: GitCredentials): { config: string[]; env: Record<string, string> } {
  if (!credentials) return { config: ["-c", "credential.helper="], env: {} };
  return {
    config: ["-c", "credential.helper=", "-c", `credential.helper=${HELPER}`],
    env: {
      [ENV.protocol]: credentials.protocol,
      [ENV.host]: credentials.host,
      [ENV.username]: credentials.username,
      [ENV.password]: credentials.password,
    },
  };
}

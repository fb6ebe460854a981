import { spawn } from "node:child_process";
import { GitBusyError, GitError } from "./errors.js";
import { credentialOptions, type GitCredentials } from "./git-credentials.js";

/** The identity on every commit mllead makes (author and committer). */
export const GIT_IDENTITY = { name: "mllead", email: "mllead@users.noreply.local" } as const;

/**
 * Config given on every command line. Hooks, signing and fsmonitor could run
 * the team's (or the host's) programs on our commits, or wait for a passphrase;
 * credential helpers from any config could store or print credentials.
 */
const CONFIG_FLAGS = [
  ["core.hooksPath", "/dev/null"],
  ["core.fsmonitor", "false"],
  ["core.untrackedCache", "false"],
  ["commit.gpgSign", "false"],
  ["tag.gpgSign", "false"],
  ["core.quotePath", "false"],
  ["init.defaultBranch", "main"],
  ["advice.detachedHead", "false"],
  ["maintenance.auto", "false"],
  ["gc.auto", "0"],
  ["user.name", GIT_IDENTITY.name],
  ["user.email", GIT_IDENTITY.email],
].flatMap(([k, v]) => ["-c", `${k}=${v}`]);

/** Variables of the service's environment every git command gets: where programs are, and the locale. */
const LOCAL_VARS = /^(PATH|LANG|LANGUAGE|LC_[A-Z_]+|TZ)$/;

/**
 * Variables a command that talks to a remote (clone, fetch, push) also gets:
 * how to reach it (proxies, ssh and its agent, CA files) and HOME, where ssh
 * keeps its keys and known hosts. Git's own global config stays off even then.
 */
const NETWORK_VARS = new Set([
  "HOME",
  "USER",
  "LOGNAME",
  "SSH_AUTH_SOCK",
  "GIT_SSH",
  "GIT_SSH_COMMAND",
  "GIT_SSH_VARIANT",
  "GIT_SSL_CAINFO",
  "GIT_SSL_CAPATH",
  "GIT_PROXY_COMMAND",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "http_proxy",
  "https_proxy",
  "all_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "ALL_PROXY",
  "NO_PROXY",
]);

/** HOME of every command that does not talk to a remote: nothing there, so no user file of the host is read. */
export const GIT_HOME = "/nonexistent";

/** Stderr of a command that lost a race for one of git's lock files; retried briefly. */
const LOCK_ERROR =
  /\.lock'?:? File exists|Unable to create '[^']*\.lock'|cannot lock ref|could not lock config file|Another git process seems to be running|unable to write new index file/i;

/** `update-ref <ref> <new> <old>` found the ref somewhere other than `<old>`. */
const CAS_MISMATCH = /is at [0-9a-f]+ but expected [0-9a-f]+|reference already exists|unable to resolve reference/i;

/** Longest time `runGit` keeps retrying a command that hit a lock (ms). */
const LOCK_RETRY_MS = 8000;

/** Options of one git command. */
export interface GitRunOptions {
  /** Text or bytes written to the command's stdin. */
  input?: string | Buffer;
  /** Extra environment variables for this command only. */
  env?: Record<string, string>;
  /** Exit codes treated as success besides 0 (e.g. 1 for `diff --quiet`). */
  okExitCodes?: readonly number[];
  /** Stdout kept (bytes); past it the command is stopped and `truncated` set. Default 64 MiB. */
  maxStdoutBytes?: number;
  /** Killed after this long (ms). Default 120 000. */
  timeoutMs?: number;
  /**
   * The command talks to a remote (clone, fetch, push): it gets the network part
   * of the environment, and `credentials` (when given) through a credential
   * helper for this call only. Configured credential helpers are reset either way.
   */
  network?: true | { credentials?: GitCredentials | undefined };
  /** Builds the error thrown on failure; default a GitError. */
  fail?: (message: string, args: string[], exitCode: number | null, stderr: string) => Error;
}

/** What a git command printed. */
export interface GitOutput {
  stdout: string;
  /** Stdout as bytes (blobs are not text). */
  bytes: Buffer;
  stderr: string;
  exitCode: number;
  /** Stdout passed `maxStdoutBytes`; the command was stopped early. */
  truncated: boolean;
}

/** Removes the password (or token) part of URLs in `text`: `https://user:tok@host` → `https://***@host`. */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, "$1***@");
}

/**
 * The environment git runs with, by allow-list: PATH and the locale of `base`
 * (plus the remote-reaching variables of NETWORK_VARS when `network`), HOME
 * where there is nothing (unless `network`), no system or global config, no
 * prompts, C messages (so lock errors can be recognised), and mllead's
 * identity. Nothing else of the service (tokens, keys, repository-selecting
 * `GIT_*` variables) reaches git or the programs it starts.
 */
export function gitEnv(base: Readonly<Record<string, string | undefined>>, network = false): Record<string, string> {
  const env: Record<string, string> = { HOME: GIT_HOME };
  for (const [k, v] of Object.entries(base)) {
    if (v !== undefined && (LOCAL_VARS.test(k) || (network && NETWORK_VARS.has(k)))) env[k] = v;
  }
  return {
    ...env,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_ATTR_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0",
    GCM_INTERACTIVE: "never",
    GIT_OPTIONAL_LOCKS: "0",
    LC_ALL: "C",
    GIT_AUTHOR_NAME: GIT_IDENTITY.name,
    GIT_AUTHOR_EMAIL: GIT_IDENTITY.email,
    GIT_COMMITTER_NAME: GIT_IDENTITY.name,
    GIT_COMMITTER_EMAIL: GIT_IDENTITY.email,
  };
}

/**
 * The repository a command works on, as the service recorded it: never found
 * by git from a working directory (a worktree's `.git` is the step's to write).
 */
export interface GitDirs {
  /** Passed as `--git-dir`. */
  gitDir: string;
  /** Passed as `--work-tree`; absent: the command runs bare, with no work tree at all. */
  workTree?: string;
}

function commandLine(dirs: GitDirs | null, args: string[], opts: GitRunOptions): string[] {
  const where = dirs ? [`--git-dir=${dirs.gitDir}`, dirs.workTree ? `--work-tree=${dirs.workTree}` : "--bare"] : [];
  const creds = opts.network ? credentialOptions(opts.network === true ? undefined : opts.network.credentials).config : [];
  return [...where, ...CONFIG_FLAGS, ...creds, ...args];
}

function commandEnv(opts: GitRunOptions): Record<string, string> {
  const creds = opts.network && opts.network !== true ? credentialOptions(opts.network.credentials).env : {};
  // The service's environment, filtered by `gitEnv`'s allow-list: only PATH and the locale (and, for a remote, its access).
  return { ...gitEnv(process.env, Boolean(opts.network)), ...opts.env, ...creds };
}

function once(
  dirs: GitDirs | null,
  cwd: string,
  args: string[],
  opts: GitRunOptions,
): Promise<GitOutput & { spawnError?: Error }> {
  const maxOut = opts.maxStdoutBytes ?? 64 * 1024 * 1024;
  return new Promise((resolve) => {
    const child = spawn("git", commandLine(dirs, args, opts), { cwd, env: commandEnv(opts), stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let spawnError: Error | undefined;
    const timer = setTimeout(() => {
      spawnError = new Error(`timed out after ${opts.timeoutMs ?? 120_000} ms`);
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 120_000);
    child.stdout.on("data", (b: Buffer) => {
      if (truncated) return;
      if (outBytes + b.length > maxOut) {
        out.push(b.subarray(0, maxOut - outBytes));
        truncated = true;
        child.kill("SIGTERM");
        return;
      }
      out.push(b);
      outBytes += b.length;
    });
    child.stderr.on("data", (b: Buffer) => {
      if (errBytes < 64 * 1024) err.push(b);
      errBytes += b.length;
    });
    child.on("error", (e) => {
      spawnError = e;
    });
    // A command that exits before reading its stdin would otherwise crash the process with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const bytes = Buffer.concat(out);
      resolve({
        stdout: bytes.toString("utf8"),
        bytes,
        stderr: Buffer.concat(err).toString("utf8"),
        exitCode: code ?? (signal ? 128 : -1),
        truncated,
        ...(spawnError ? { spawnError } : {}),
      });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runWithRetry(dirs: GitDirs | null, cwd: string, args: string[], opts: GitRunOptions): Promise<GitOutput> {
  const start = Date.now();
  for (let attempt = 0; ; attempt++) {
    const r = await once(dirs, cwd, args, opts);
    if (r.spawnError) {
      const message = `git ${redactUrls(args[0] ?? "")}: ${r.spawnError.message}`;
      throw opts.fail
        ? opts.fail(message, args.map(redactUrls), null, "")
        : new GitError(message, args.map(redactUrls), null, "");
    }
    if (r.truncated || r.exitCode === 0 || opts.okExitCodes?.includes(r.exitCode)) return r;
    const shownArgs = args.map(redactUrls);
    const stderr = redactUrls(r.stderr.trim());
    // A compare-and-swap that found the ref elsewhere is an answer, not a lock to wait for.
    if (LOCK_ERROR.test(r.stderr) && !CAS_MISMATCH.test(r.stderr)) {
      if (Date.now() - start < LOCK_RETRY_MS) {
        await sleep(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random()));
        continue;
      }
      throw new GitBusyError(`git ${shownArgs[0]} kept finding the repository locked: ${stderr}`);
    }
    const message = `git ${shownArgs.slice(0, 3).join(" ")} failed (exit ${r.exitCode}): ${stderr.slice(0, 2000)}`;
    throw opts.fail ? opts.fail(message, shownArgs, r.exitCode, stderr) : new GitError(message, shownArgs, r.exitCode, stderr);
  }
}

/**
 * Runs `git <args>` on the repository `dirs` names (`--git-dir`, and
 * `--work-tree` or `--bare`), without a shell, in an allow-listed environment
 * (see `gitEnv`) with hooks, fsmonitor and system/global config off. A command
 * that lost a race for a git lock is retried with backoff for up to 8 s, then
 * GitBusyError (retryable). Any other failure throws `opts.fail(...)` or a
 * GitError naming the command.
 */
export async function runGit(dirs: GitDirs, args: string[], opts: GitRunOptions = {}): Promise<GitOutput> {
  return runWithRetry(dirs, dirs.workTree ?? dirs.gitDir, args, opts);
}

/**
 * Runs git in `cwd` letting it find the repository there: only for a path the
 * operator gave (`MLLEAD_REPO`), never for anything a step can write.
 */
export async function runGitDiscovering(cwd: string, args: string[], opts: GitRunOptions = {}): Promise<GitOutput> {
  return runWithRetry(null, cwd, args, opts);
}

/** `runGit(...).stdout` without the trailing newline. */
export async function gitLine(dirs: GitDirs, args: string[], opts: GitRunOptions = {}): Promise<string> {
  return (await runGit(dirs, args, opts)).stdout.trim();
}

/** True when `git <args>` exits 0 (for `rev-parse --verify` and the like); other failures are false. */
export async function gitOk(dirs: GitDirs, args: string[]): Promise<boolean> {
  try {
    await runGit(dirs, args);
    return true;
  } catch (err) {
    if (err instanceof GitBusyError) throw err;
    return false;
  }
}

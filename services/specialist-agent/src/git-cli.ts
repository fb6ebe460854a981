import { spawn } from "node:child_process";
import { GitBusyError, GitError } from "./git-errors.js";

/** The identity on every commit mllead makes (author and committer). */
export const GIT_IDENTITY = { name: "mllead", email: "mllead@users.noreply.local" } as const;

/**
 * Config given on every command line. Hooks, signing and fsmonitor could run
 * the team's (or the host's) programs on our commits, or wait for a passphrase.
 */
const CONFIG_FLAGS = [
  ["core.hooksPath", "/dev/null"],
  ["core.fsmonitor", "false"],
  ["commit.gpgSign", "false"],
  ["tag.gpgSign", "false"],
  ["core.quotePath", "false"],
  ["init.defaultBranch", "main"],
  ["advice.detachedHead", "false"],
  ["maintenance.auto", "false"],
  ["user.name", GIT_IDENTITY.name],
  ["user.email", GIT_IDENTITY.email],
].flatMap(([k, v]) => ["-c", `${k}=${v}`]);

/** Inherited `GIT_*` variables that say how to reach a remote or which config to read; every other `GIT_*` is dropped. */
const KEPT_GIT_VARS = new Set([
  "GIT_SSH",
  "GIT_SSH_COMMAND",
  "GIT_SSH_VARIANT",
  "GIT_ASKPASS",
  "GIT_SSL_CAINFO",
  "GIT_SSL_CAPATH",
  "GIT_PROXY_COMMAND",
  "GIT_EXEC_PATH",
  "GIT_CONFIG_GLOBAL",
  "GIT_CONFIG_NOSYSTEM",
]);

/** Stderr of a command that lost a race for one of git's lock files; retried briefly. */
const LOCK_ERROR =
  /\.lock'?:? File exists|Unable to create '[^']*\.lock'|cannot lock ref|could not lock config file|Another git process seems to be running|unable to write new index file/i;

/** Longest time `runGit` keeps retrying a command that hit a lock (ms). */
const LOCK_RETRY_MS = 8000;

/** Options of one git command. */
export interface GitRunOptions {
  /** Text written to the command's stdin. */
  input?: string;
  /** Extra environment variables for this command only. */
  env?: Record<string, string>;
  /** Exit codes treated as success besides 0 (e.g. 1 for `diff --quiet`). */
  okExitCodes?: readonly number[];
  /** Stdout kept (bytes); past it the command is stopped and `truncated` set. Default 64 MiB. */
  maxStdoutBytes?: number;
  /** Killed after this long (ms). Default 120 000. */
  timeoutMs?: number;
  /** Builds the error thrown on failure; default a GitError. */
  fail?: (message: string, args: string[], exitCode: number | null, stderr: string) => Error;
}

/** What a git command printed. */
export interface GitOutput {
  stdout: string;
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
 * The environment git runs with: the base environment without inherited
 * repository-selecting `GIT_*` variables (a parent git hook's `GIT_DIR` would
 * point every command at the wrong repository), never prompting, C locale (so
 * lock errors can be recognised), and mllead's identity.
 */
export function gitEnv(base: Readonly<Record<string, string | undefined>> = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v !== undefined && (!k.startsWith("GIT_") || KEPT_GIT_VARS.has(k))) env[k] = v;
  }
  return {
    ...env,
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

let baseEnv: Record<string, string> = gitEnv();

/** Sets the environment every later git command starts from (the service passes its parsed environment). */
export function setGitBaseEnv(base: Readonly<Record<string, string | undefined>>): void {
  baseEnv = gitEnv(base);
}

function once(cwd: string, args: string[], opts: GitRunOptions): Promise<GitOutput & { spawnError?: Error }> {
  const maxOut = opts.maxStdoutBytes ?? 64 * 1024 * 1024;
  return new Promise((resolve) => {
    const child = spawn("git", [...CONFIG_FLAGS, ...args], {
      cwd,
      env: { ...baseEnv, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
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
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        exitCode: code ?? (signal ? 128 : -1),
        truncated,
        ...(spawnError ? { spawnError } : {}),
      });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `git <args>` in `cwd` without a shell. A command that lost a race for
 * a git lock is retried with backoff for up to 8 s, then GitBusyError (retryable).
 * Any other failure throws `opts.fail(...)` or a GitError naming the command.
 */
export async function runGit(cwd: string, args: string[], opts: GitRunOptions = {}): Promise<GitOutput> {
  const start = Date.now();
  for (let attempt = 0; ; attempt++) {
    const r = await once(cwd, args, opts);
    if (r.spawnError) {
      const message = `git ${redactUrls(args[0] ?? "")}: ${r.spawnError.message}`;
      throw opts.fail
        ? opts.fail(message, args.map(redactUrls), null, "")
        : new GitError(message, args.map(redactUrls), null, "");
    }
    if (r.truncated || r.exitCode === 0 || opts.okExitCodes?.includes(r.exitCode)) return r;
    const shownArgs = args.map(redactUrls);
    const stderr = redactUrls(r.stderr.trim());
    if (LOCK_ERROR.test(r.stderr)) {
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

/** `runGit(...).stdout` without the trailing newline. */
export async function gitLine(cwd: string, args: string[], opts: GitRunOptions = {}): Promise<string> {
  return (await runGit(cwd, args, opts)).stdout.trim();
}

/** True when `git <args>` exits 0 (for `rev-parse --verify` and the like); other failures are false. */
export async function gitOk(cwd: string, args: string[]): Promise<boolean> {
  try {
    await runGit(cwd, args);
    return true;
  } catch (err) {
    if (err instanceof GitBusyError) throw err;
    return false;
  }
}

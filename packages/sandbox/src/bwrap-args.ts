import { lstat, readdir, readlink } from "node:fs/promises";
import { MISSING, onCode } from "./errno.js";
import type { ResolvedPolicy } from "./policy.js";

/** The uid and gid commands run as inside the bubblewrap sandbox (`nobody`); see `bubblewrapArgs`. */
export const SANDBOX_UID = 65534;

/** One top-level system path as the host has it: a directory to bind read-only, or a symlink (e.g. /lib → usr/lib). */
export type SystemEntry = { path: string; kind: "dir" } | { path: string; kind: "symlink"; target: string };

/** What of the host's filesystem every sandbox sees, read-only; detected once per process. */
export interface HostLayout {
  system: SystemEntry[];
  /** Files and directories under /etc that exist on this host and programs need (see `ETC_ENTRIES`). */
  etc: string[];
}

/** The host's system directories every bubblewrap sandbox binds read-only (the ones that exist). */
export const SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/**
 * The /etc entries a sandbox gets: the dynamic loader's cache, Debian's alternatives
 * symlinks, CA certificates, user and name-service lookup, time zone, and
 * interpreter config. Nothing that usually holds credentials (no gitconfig, pip.conf,
 * netrc, ssh, shadow); resolv.conf only with network.
 */
export const ETC_ENTRIES = [
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "alternatives",
  "ssl",
  "ca-certificates",
  "ca-certificates.conf",
  "pki",
  "crypto-policies",
  "passwd",
  "group",
  "nsswitch.conf",
  "host.conf",
  "hosts",
  "gai.conf",
  "protocols",
  "services",
  "localtime",
  "timezone",
  "mime.types",
  "os-release",
  "debian_version",
  "lsb-release",
  "fonts",
  "matplotlibrc",
] as const;

/** Reads which system paths and /etc entries this host has (symlinked /lib, /bin and the like included). */
export async function detectHostLayout(): Promise<HostLayout> {
  const system: SystemEntry[] = [];
  for (const path of SYSTEM_PATHS) {
    const st = await lstat(path).catch(onCode(MISSING, null));
    if (st?.isSymbolicLink()) system.push({ path, kind: "symlink", target: await readlink(path) });
    else if (st?.isDirectory()) system.push({ path, kind: "dir" });
  }
  const present = new Set(await readdir("/etc").catch(onCode(MISSING, [] as string[])));
  // Interpreters keep site config in /etc/python3, /etc/python3.11 and the like.
  const etc = [...ETC_ENTRIES.filter((e) => present.has(e)), ...[...present].filter((e) => /^python\d/.test(e)).sort()];
  return { system, etc: etc.map((e) => `/etc/${e}`) };
}

/**
 * The bwrap options for one run (everything before `--`).
 *
 * - The host's system dirs and a few /etc files read-only; a fresh /tmp, /var/tmp,
 *   /dev and /proc; the policy's binds; nothing else of the host (no $HOME, no checkout).
 * - New user, pid, ipc, uts and cgroup namespaces, and a network namespace unless
 *   `network`. A new pid namespace means /proc shows only the sandbox's processes.
 * - All capabilities dropped, no nested user namespaces, a new session (no terminal
 *   to inject into), and SIGKILL for everything inside when bwrap or its parent dies.
 * - `--uid 65534`: bwrap (run as root) maps that uid to root outside, so files in the
 *   workdir stay owned by their owner and stay writable, while programs inside see
 *   an ordinary user (pip and friends stop acting as root). Without capabilities it
 *   cannot touch files the host's root did not own or that are not mounted. Mapping
 *   to a non-root host uid instead would make the root-owned worktree unwritable.
 * - `--clearenv`: nothing of bwrap's own environment leaks in; the command's
 *   environment follows from `bubblewrapEnv`, handed over out of sight (`hiddenArgs`).
 */
export function bubblewrapArgs(layout: HostLayout, policy: ResolvedPolicy): string[] {
  const a: string[] = [];
  for (const e of layout.system) {
    if (e.kind === "dir") a.push("--ro-bind", e.path, e.path);
    else a.push("--symlink", e.target, e.path);
  }
  for (const p of layout.etc) a.push("--ro-bind-try", p, p);
  if (policy.network) a.push("--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf");
  a.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--perms", "1777", "--dir", "/var/tmp");
  for (const b of policy.binds) {
    const opt = b.mode === "ro" ? "--ro-bind" : b.mode === "dev" ? "--dev-bind" : "--bind";
    a.push(opt, b.src, b.dest);
  }
  a.push("--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try");
  if (!policy.network) a.push("--unshare-net");
  a.push("--disable-userns", "--uid", String(SANDBOX_UID), "--gid", String(SANDBOX_UID));
  a.push("--cap-drop", "ALL", "--new-session", "--die-with-parent", "--chdir", policy.cwd, "--clearenv");
  return a;
}

/**
 * The `--setenv` options that make the command's environment exactly `env`, with HOME at the workdir and TMPDIR
 * at /tmp. They carry values (API keys a team passes to its jobs), so they never go on bwrap's command line, which
 * every local user can read with `ps`: see `hiddenArgs`.
 */
export function bubblewrapEnv(policy: ResolvedPolicy, env: Readonly<Record<string, string>>): string[] {
  const inner = { ...env, HOME: policy.workdir, TMPDIR: "/tmp" };
  return Object.keys(inner)
    .sort()
    .flatMap((k) => ["--setenv", k, inner[k as keyof typeof inner] as string]);
}

/** The file descriptor bwrap reads `--args` from. */
export const HIDDEN_ARGS_FD = 3;

/**
 * Options bwrap reads from `HIDDEN_ARGS_FD` (`--args 3`: NUL-terminated, in place of the `--args` option) rather
 * than from its command line; `hiddenArgsData` is what the launcher writes there.
 */
export function hiddenArgs(): string[] {
  return ["--args", String(HIDDEN_ARGS_FD)];
}

/** `args` as bwrap's `--args` expects them: each one NUL-terminated. */
export function hiddenArgsData(args: readonly string[]): Buffer {
  return Buffer.from(args.map((a) => `${a}\0`).join(""));
}

/**
 * Wraps argv for running under bwrap: `sh -c 'exec "$@"'` inside the sandbox, so a
 * missing program exits 127 and an unrunnable one 126, as a shell would say, and
 * the arguments are passed through untouched (never parsed by the shell).
 */
export function innerCommand(argv: readonly string[]): string[] {
  return ["/bin/sh", "-c", 'exec "$@"', "sh", ...argv];
}

import { realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { hasCode, MISSING } from "./errno.js";
import { SandboxPolicyError } from "./errors.js";
import { isInside } from "./paths.js";

/** Resource limits for one sandboxed run. Each is optional: unset means no limit of that kind. */
export interface SandboxLimits {
  /** Memory in bytes: a cgroup memory limit where one can be made, else RLIMIT_AS (address space). */
  memoryBytes?: number;
  /** Processes and threads at once: a cgroup `pids.max` where one can be made, else RLIMIT_NPROC. */
  processes?: number;
  /** The largest file the command may write, in bytes (RLIMIT_FSIZE). */
  fileSizeBytes?: number;
}

/** What a sandboxed command may see and use. Paths are absolute; each appears at the same path inside. */
export interface SandboxPolicy {
  /** Read-write, e.g. the task's git worktree. The command's `cwd` must lie inside it. */
  workdir: string;
  /** More read-write directories (e.g. a job's artifacts directory). */
  readWrite?: readonly string[];
  /** Read-only directories or files (e.g. the team's data dirs, a git common dir, a toolchain outside /usr). */
  readOnly?: readonly string[];
  /** Device nodes bound into /dev with device access (e.g. /dev/nvidia0); ones that do not exist are skipped. */
  devices?: readonly string[];
  /** Whether the command may use the host's network. False: only a loopback of its own. */
  network: boolean;
  limits: SandboxLimits;
}

/** One bind mount: the host path `src` shown at `dest` (the path as the caller named it). */
export interface Bind {
  src: string;
  dest: string;
  mode: "ro" | "rw" | "dev";
}

/** A policy checked against the filesystem: binds ordered so that nested paths are mounted after their parents. */
export interface ResolvedPolicy {
  workdir: string;
  /** The directory to start in, as a path inside the sandbox. */
  cwd: string;
  binds: Bind[];
  network: boolean;
  limits: SandboxLimits;
}

async function hostPath(p: string, what: string): Promise<{ src: string; dest: string }> {
  if (!isAbsolute(p)) throw new SandboxPolicyError(`${what} '${p}' is not an absolute path`);
  const dest = resolve(p);
  const src = await realpath(dest).catch((err: unknown) => {
    throw new SandboxPolicyError(`${what} '${p}' does not exist`, { cause: err });
  });
  return { src, dest };
}

function checkLimit(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v > 0))
    throw new SandboxPolicyError(`limits.${name} must be a positive integer, got ${v}`);
}

function depth(p: string): number {
  return p.split(sep).filter(Boolean).length;
}

/**
 * Checks a policy and a cwd against the filesystem: every path absolute and
 * existing, the workdir a directory, `cwd` inside the workdir (symlinks resolved),
 * limits positive integers. Binds come out shallowest first, so a read-only data
 * dir inside the workdir stays read-only and a workdir inside a read-only dir stays
 * writable.
 */
export async function resolvePolicy(policy: SandboxPolicy, cwd: string): Promise<ResolvedPolicy> {
  const work = await hostPath(policy.workdir, "workdir");
  if (!(await stat(work.src)).isDirectory()) throw new SandboxPolicyError(`workdir '${policy.workdir}' is not a directory`);
  const realCwd = await hostPath(resolve(work.dest, cwd), "cwd");
  if (!isInside(work.src, realCwd.src)) throw new SandboxPolicyError(`cwd '${cwd}' is outside the workdir '${policy.workdir}'`);
  const rel = relative(work.src, realCwd.src);
  checkLimit("memoryBytes", policy.limits.memoryBytes);
  checkLimit("processes", policy.limits.processes);
  checkLimit("fileSizeBytes", policy.limits.fileSizeBytes);

  const binds: Bind[] = [{ ...work, mode: "rw" }];
  for (const p of policy.readOnly ?? []) binds.push({ ...(await hostPath(p, "readOnly path")), mode: "ro" });
  for (const p of policy.readWrite ?? []) binds.push({ ...(await hostPath(p, "readWrite path")), mode: "rw" });
  for (const p of policy.devices ?? []) {
    if (!isAbsolute(p) || !resolve(p).startsWith("/dev/")) throw new SandboxPolicyError(`device '${p}' is not under /dev`);
    // A device this host lacks (no GPU here) is skipped.
    const dev = await hostPath(p, "device").catch((err: unknown) => {
      if (err instanceof SandboxPolicyError && hasCode(err.cause, MISSING)) return null;
      throw err;
    });
    if (dev) binds.push({ ...dev, mode: "dev" });
  }
  // Stable sort: at equal depth the caller's order (workdir first) decides.
  binds.sort((a, b) => depth(a.dest) - depth(b.dest));
  return {
    workdir: work.dest,
    cwd: rel === "" ? work.dest : join(work.dest, rel),
    binds,
    network: policy.network,
    limits: { ...policy.limits },
  };
}

import { type ExecFileException, execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import {
  bubblewrapArgs,
  bubblewrapEnv,
  detectHostLayout,
  type HostLayout,
  hiddenArgs,
  hiddenArgsData,
  innerCommand,
} from "./bwrap-args.js";
import { CgroupLimiter } from "./cgroup.js";
import { SandboxUnavailableError } from "./errors.js";
import { findExecutable } from "./executable.js";
import { type LimitEnforcement, Limiter } from "./limits.js";
import { resolvePolicy, type SandboxPolicy } from "./policy.js";
import { type ProcessOutcome, type ProcessSpec, runProcess } from "./process.js";
import { softStopSandbox } from "./process-tree.js";
import { type CommandResult, type RunCommandOptions, runCommandWith } from "./run-command.js";

/** `bubblewrap`: namespaces and a minimal filesystem; `process`: a process group and limits only (no isolation). */
export type SandboxKind = "bubblewrap" | "process";

/** One command for `Sandbox.run`: runCommand's options plus the policy. */
export interface SandboxCommand extends RunCommandOptions {
  argv: readonly string[];
  policy: SandboxPolicy;
}

/** One process for `Sandbox.runProcess`: runProcess's spec plus the policy. */
export interface SandboxProcessSpec extends Omit<ProcessSpec, "softStop"> {
  policy: SandboxPolicy;
}

/** Runs untrusted commands under a policy. Make one with `createSandbox`. */
export interface Sandbox {
  readonly kind: SandboxKind;
  /** Set when commands are not isolated (kind `process`): say so wherever a person looks (logs, status, the thread). */
  readonly warning?: string;
  /** How the policy's limits are enforced on this host. */
  readonly enforcement: LimitEnforcement;
  /**
   * Runs argv with runCommand's behaviour (no shell, output tails, 127 for a missing
   * program, the process group killed at the timeout). The command's environment is
   * exactly `env` (build it with `sandboxEnv`); under bubblewrap HOME is the workdir and
   * TMPDIR /tmp. bwrap itself gets none of it. Throws `SandboxPolicyError` for a policy
   * or cwd that cannot be applied.
   */
  run(cmd: SandboxCommand): Promise<CommandResult>;
  /**
   * The streaming form for job runners, with runProcess's spec; `env` is used as
   * given. `onSpawn` gets the launcher's pid (bwrap's under bubblewrap): its process
   * group can be killed, and killing bwrap kills everything in the sandbox. Of `env`
   * only `MLLEAD_JOB_ID` is also set on bwrap itself (see `JOB_MARKER`).
   */
  runProcess(spec: SandboxProcessSpec): Promise<ProcessOutcome>;
}

/** Options for `createSandbox`. */
export interface CreateSandboxOptions {
  /** `auto` (default): bubblewrap when it works here, else `process` with a warning; `bubblewrap`: throw unless it works; `process`: never bubblewrap. */
  mode?: "auto" | "bubblewrap" | "process";
  /** The bwrap binary. Default: `MLLEAD_BWRAP` in `env`, then `bwrap` on PATH, then /usr/bin/bwrap. */
  bwrap?: string;
  /** Where PATH and MLLEAD_BWRAP are read. Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Put runs in cgroups for process and memory limits where /sys/fs/cgroup lets us. Default true. */
  cgroups?: boolean;
}

const INSTALL = "install the `bubblewrap` package (apt-get install bubblewrap)";

/** What to change where bwrap is installed but the kernel or the container refuses it namespaces. */
const ALLOW_USERNS =
  "bwrap needs unprivileged user namespaces (sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1; " +
  "on Ubuntu 23.10+ kernel.apparmor_restrict_unprivileged_userns=0) and, in a container, seccomp and AppArmor " +
  "unconfined and an unmasked /proc (Docker: security_opt seccomp=unconfined, apparmor=unconfined, " +
  "systempaths=unconfined; Kubernetes: procMount Unmasked; see README, Security)";

/**
 * The variable bwrap itself carries on the host besides PATH: a restarted job runner
 * recognises its jobs' processes by it in /proc/<pid>/environ (see the runner's orphans.ts).
 * Inside the sandbox bwrap is pid 1 and its environment is readable, so nothing else of
 * the command's environment, and nothing a model chose, is put there.
 */
export const JOB_MARKER = "MLLEAD_JOB_ID";

function findProgram(name: string, env: Readonly<Record<string, string | undefined>>, extra: string[]): string | null {
  for (const dir of [...(env.PATH ?? "").split(delimiter), ...extra]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Runs `bwrap <the real options> -- true` once: bwrap may be installed yet not permitted (no user namespaces). */
async function probe(bwrap: string, layout: HostLayout): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), "mllead-sandbox-probe-"));
  try {
    const policy = await resolvePolicy({ workdir: dir, network: false, limits: {} }, dir);
    const args = [
      ...bubblewrapArgs(layout, policy),
      ...bubblewrapEnv(policy, { PATH: "/usr/bin:/bin" }),
      "--",
      ...innerCommand(["true"]),
    ];
    return await new Promise<string | null>((resolve) => {
      execFile(bwrap, args, { timeout: 10_000, env: { PATH: "/usr/bin:/bin" } }, (err, _out, stderr) => {
        resolve(err ? probeFailure(err, stderr) : null);
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line on why the probe failed: bwrap's first line of stderr, else how it ended (never its whole argv). */
function probeFailure(err: ExecFileException, stderr: string): string {
  const line = stderr.trim().split("\n")[0];
  if (line) return line;
  if (err.killed || err.signal) return `it was stopped (${err.signal ?? "timeout"})`;
  if (typeof err.code === "number") return `it exited with code ${err.code} and said nothing`;
  return err.code ? `it could not be run (${err.code})` : (err.message.split("\n")[0] ?? "it failed");
}

/**
 * Host-side variables for the launcher and bwrap itself: a fixed PATH and, for jobs, the
 * job marker — nothing the command runs with (no LD_PRELOAD outside the sandbox, no
 * value a step or a model chose, no service secret readable as /proc/1/environ inside).
 */
function launcherEnv(env: Readonly<Record<string, string>>, withMarker: boolean): Record<string, string> {
  const out: Record<string, string> = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };
  const marker = env[JOB_MARKER];
  if (withMarker && marker !== undefined) out[JOB_MARKER] = marker;
  return out;
}

/**
 * Detects the best sandbox this host allows and returns it. bwrap is looked up
 * (option, MLLEAD_BWRAP, PATH, /usr/bin/bwrap) and actually tried once. Where it
 * cannot run, the sandbox is kind `process` (a process group, limits, the environment
 * it is given, but the host's whole filesystem, network and /proc) and `warning` says why
 * and what to install. Limits use cgroups where writable, else rlimits via prlimit.
 */
export async function createSandbox(opts: CreateSandboxOptions = {}): Promise<Sandbox> {
  const env = opts.env ?? process.env;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const cgroups = opts.cgroups === false ? null : await CgroupLimiter.detect();
  const limiter = new Limiter(cgroups, findProgram("prlimit", env, ["/usr/bin", "/bin"]), isRoot);
  const mode = opts.mode ?? "auto";

  let reason = "turned off by configuration";
  let advice = "set the sandbox mode to auto to use bubblewrap";
  if (mode !== "process") {
    // Empty counts as unset: `.env.example` lists MLLEAD_BWRAP with no value.
    const bwrap = opts.bwrap || env.MLLEAD_BWRAP || findProgram("bwrap", env, ["/usr/bin"]);
    const layout = await detectHostLayout();
    advice = INSTALL;
    if (bwrap === null) reason = "no `bwrap` on PATH or at /usr/bin/bwrap";
    else if (!existsSync(bwrap)) {
      reason = `${bwrap} does not exist`;
      if (opts.bwrap || env.MLLEAD_BWRAP) advice = `${INSTALL}, or point MLLEAD_BWRAP at the bwrap binary`;
    } else {
      const why = await probe(bwrap, layout);
      if (why === null) return bubblewrapSandbox(bwrap, layout, limiter);
      reason = `${bwrap} cannot make a sandbox here: ${why}`;
      advice = ALLOW_USERNS;
    }
    if (mode === "bubblewrap") throw new SandboxUnavailableError(reason, advice);
  }
  return processSandbox(limiter, `bubblewrap is not available (${reason}): commands run in a process sandbox only — ${advice}`);
}

function bubblewrapSandbox(bwrap: string, layout: HostLayout, limiter: Limiter): Sandbox {
  const runInside = async (spec: SandboxProcessSpec, withMarker: boolean): Promise<ProcessOutcome> => {
    const policy = await resolvePolicy(spec.policy, spec.cwd);
    const launch = await limiter.prepare(policy.limits);
    try {
      return await runProcess({
        ...spec,
        // The environment goes to bwrap through a pipe, not its command line: `ps` shows argv to every local user.
        argv: [...launch.prefix, bwrap, ...bubblewrapArgs(layout, policy), ...hiddenArgs(), "--", ...innerCommand(spec.argv)],
        fd3: hiddenArgsData(bubblewrapEnv(policy, spec.env)),
        cwd: "/",
        env: launcherEnv(spec.env, withMarker),
        softStop: softStopSandbox,
      });
    } finally {
      await launch.close();
    }
  };
  return {
    kind: "bubblewrap",
    enforcement: limiter.enforcement,
    runProcess: (spec) => runInside(spec, true),
    run: ({ argv, policy, ...opts }) => runCommandWith((spec) => runInside({ ...spec, policy }, false), argv, opts),
  };
}

function processSandbox(limiter: Limiter, warning: string): Sandbox {
  const runPlain = async (spec: SandboxProcessSpec): Promise<ProcessOutcome> => {
    // Nothing is isolated here, but a cwd outside the workdir is still refused, as under bubblewrap.
    const policy = await resolvePolicy(spec.policy, spec.cwd);
    const cmd = spec.argv[0] ?? "";
    const found = findExecutable(cmd, policy.cwd, spec.env.PATH);
    if ("code" in found) {
      const spawnError = `spawn ${cmd} ${found.code}`;
      return {
        exitCode: null,
        signal: null,
        timedOut: false,
        stopped: false,
        durationMs: 0,
        spawnError,
        spawnErrorCode: found.code,
      };
    }
    const launch = await limiter.prepare(policy.limits);
    try {
      return await runProcess({ ...spec, argv: [...launch.prefix, ...spec.argv], cwd: policy.cwd });
    } finally {
      await launch.close();
    }
  };
  return {
    kind: "process",
    warning,
    enforcement: limiter.enforcement,
    runProcess: runPlain,
    run: ({ argv, policy, ...opts }) => runCommandWith((spec) => runPlain({ ...spec, policy }), argv, opts),
  };
}

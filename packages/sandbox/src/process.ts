import { spawn } from "node:child_process";
import type { Writable } from "node:stream";
import { signalIfAlive } from "./errno.js";

/** How a process run ended. `stopped` is set when the run was aborted (shutdown or cancel). */
export interface ProcessOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stopped: boolean;
  durationMs: number;
  /** Set when the command could not be started at all (e.g. not found). */
  spawnError?: string;
  /** The errno code of `spawnError` (e.g. `ENOENT`), when it had one. */
  spawnErrorCode?: string;
}

/** What to run and how to stop it. */
export interface ProcessSpec {
  argv: readonly string[];
  cwd: string;
  env: Record<string, string>;
  /** Wall-clock limit; past it the whole process group is stopped. */
  timeoutMs: number;
  /** SIGTERM → SIGKILL grace. */
  killGraceMs: number;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  /** Aborting stops the process group the same way as a timeout, but reports `stopped`. */
  signal?: AbortSignal;
  /** Told the leader's pid (= the process group id) once the process exists, e.g. to record it for a crash. */
  onSpawn?: (pid: number) => void;
  /**
   * Delivers the polite stop at a timeout or abort. Default: SIGTERM to the process
   * group. A launcher that must outlive its command's grace (bwrap) sends it elsewhere.
   * SIGKILL after the grace always goes to the group.
   */
  softStop?: (pid: number) => void;
  /**
   * Written to the process's file descriptor 3, which is then closed: what the launcher must be told out of sight of
   * `ps` (bwrap's `--args 3`: the command's environment).
   */
  fd3?: Buffer;
}

/** The port job and command runners start processes through. */
export type ProcessRunner = (spec: ProcessSpec) => Promise<ProcessOutcome>;

/** Signals the process group led by `pid`; a group that is gone already is left alone. */
function killGroup(pid: number, sig: NodeJS.Signals): void {
  signalIfAlive(-pid, sig);
}

/**
 * Runs argv with no shell in its own process group (`detached`), so a timeout or
 * a stop reaches every process the command started: SIGTERM to the group, SIGKILL
 * after the grace. When the leader exits, whatever it left behind in the group is
 * killed too — a run leaves no processes on the host.
 */
export const runProcess: ProcessRunner = (spec) =>
  new Promise<ProcessOutcome>((resolve) => {
    const started = performance.now();
    const [cmd, ...args] = spec.argv as [string, ...string[]];
    const child = spawn(cmd, args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      shell: false,
      stdio: spec.fd3 ? ["ignore", "pipe", "pipe", "pipe"] : ["ignore", "pipe", "pipe"],
      windowsHide: true,
    });
    if (child.pid !== undefined) spec.onSpawn?.(child.pid);
    let fd3Error: Error | undefined;
    if (spec.fd3) {
      const fd3 = child.stdio[3] as Writable;
      // A launcher that dies before reading it breaks the pipe: its exit status tells the run's outcome, and the
      // broken pipe is named in it.
      fd3.once("error", (err) => {
        fd3Error = err;
      });
      fd3.end(spec.fd3);
    }
    let timedOut = false;
    let stopped = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let exited = false;

    const stop = () => {
      if (exited || child.pid === undefined) return;
      if (spec.softStop) spec.softStop(child.pid);
      else killGroup(child.pid, "SIGTERM");
      killTimer ??= setTimeout(() => {
        if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
      }, spec.killGraceMs);
    };
    const timeout = setTimeout(() => {
      timedOut = true;
      stop();
    }, spec.timeoutMs);
    const onAbort = () => {
      stopped = true;
      stop();
    };
    if (spec.signal?.aborted) onAbort();
    else spec.signal?.addEventListener("abort", onAbort, { once: true });

    // Both are pipes (stdio above); the stdio array's type, chosen at run time, leaves them nullable.
    child.stdout?.on("data", spec.onStdout);
    child.stderr?.on("data", spec.onStderr);
    child.once("error", (err: NodeJS.ErrnoException) => {
      spawnError = err;
    });
    child.once("exit", () => {
      exited = true;
      // Descendants may still hold the pipes open; take the rest of the group down.
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
    });
    child.once("close", (code, sig) => {
      clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
      spec.signal?.removeEventListener("abort", onAbort);
      resolve({
        exitCode: spawnError !== undefined ? null : code,
        signal: sig,
        timedOut,
        stopped: stopped && !timedOut,
        durationMs: Math.round(performance.now() - started),
        ...(spawnError !== undefined ? { spawnError: spawnError.message } : {}),
        ...(spawnError?.code !== undefined ? { spawnErrorCode: spawnError.code } : {}),
        ...(fd3Error !== undefined && spawnError === undefined && code !== 0
          ? { spawnError: `the launcher did not take its arguments: ${fd3Error.message}` }
          : {}),
      });
    });
  });

import { TailBuffer } from "./output-tail.js";
import { type ProcessRunner, runProcess } from "./process.js";

/** What a finished command left: exit code (null when killed), bounded output tails, and whether it timed out. */
export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Options for one sandboxed command. */
export interface RunCommandOptions {
  cwd: string;
  /** The complete environment (already scrubbed of secrets). */
  env: Record<string, string>;
  /** Wall-clock limit (ms) after which the whole process group is killed. */
  timeoutMs: number;
  /** Time between SIGTERM and SIGKILL when the limit is hit (ms). Default 2000. */
  killGraceMs?: number;
  /** Bytes of stdout and of stderr kept (the tail). Default 64 KiB each. */
  maxOutputBytes?: number;
  /** Sees every stdout chunk as it arrives (e.g. to parse progress lines live). */
  onStdout?: (chunk: Buffer) => void;
  /** Aborting stops the command's processes as a timeout would (the result then has `timedOut: false`). */
  signal?: AbortSignal;
}

/** The default bytes of output kept per stream. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * Runs argv without a shell in its own process group (see `runProcess`) and
 * collects the tails of its output. A missing executable gives exit code 127,
 * one that cannot be run 126, as a shell would.
 */
export function runCommand(argv: readonly string[], opts: RunCommandOptions): Promise<CommandResult> {
  return runCommandWith(runProcess, argv, opts);
}

/** `runCommand` through another process runner (e.g. a sandbox's): same output tails and exit codes. */
export async function runCommandWith(
  runner: ProcessRunner,
  argv: readonly string[],
  opts: RunCommandOptions,
): Promise<CommandResult> {
  const cmd = argv[0];
  if (cmd === undefined) return { exitCode: 127, stdout: "", stderr: "empty command", timedOut: false };
  const limit = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const stdout = new TailBuffer(limit);
  const stderr = new TailBuffer(limit);
  const onStdout = opts.onStdout;
  const out = await runner({
    argv,
    cwd: opts.cwd,
    ...(opts.signal ? { signal: opts.signal } : {}),
    env: opts.env,
    timeoutMs: opts.timeoutMs,
    killGraceMs: opts.killGraceMs ?? 2000,
    onStdout: onStdout
      ? (d) => {
          stdout.push(d);
          onStdout(d);
        }
      : (d) => stdout.push(d),
    onStderr: (d) => stderr.push(d),
  });
  if (out.spawnError !== undefined) {
    const exitCode = out.spawnErrorCode === "ENOENT" ? 127 : 126;
    return { exitCode, stdout: "", stderr: `cannot run '${cmd}': ${out.spawnError}`, timedOut: false };
  }
  return { exitCode: out.exitCode, stdout: stdout.toString(), stderr: stderr.toString(), timedOut: out.timedOut };
}

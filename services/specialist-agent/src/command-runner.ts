import { spawn } from "node:child_process";
import type { CommandResult } from "@mllead/brain";

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
}

/** The default bytes of output kept per stream. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;

/** Keeps the last `limit` bytes written to it, and counts what it dropped. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    // Compact only when well over the limit, so a chatty process costs O(n) overall.
    if (this.size > this.limit * 2) this.compact();
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const keep = all.subarray(Math.max(0, all.length - this.limit));
    this.dropped += all.length - keep.length;
    this.chunks = [Buffer.from(keep)];
    this.size = keep.length;
  }

  /** The kept tail as text, prefixed by a marker when output was dropped. */
  toString(): string {
    if (this.size > this.limit) this.compact();
    const text = Buffer.concat(this.chunks).toString("utf8");
    return this.dropped > 0 ? `[… ${this.dropped} earlier bytes dropped …]\n${text}` : text;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Runs argv without a shell in its own process group. On timeout the whole group
 * gets SIGTERM, then SIGKILL after a grace; when the command exits, whatever it
 * left running in its group is killed too, so nothing outlives a step's command.
 * A missing executable gives exit code 127, as a shell would.
 */
export function runCommand(argv: readonly string[], opts: RunCommandOptions): Promise<CommandResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.resolve({ exitCode: 127, stdout: "", stderr: "empty command", timedOut: false });
  const limit = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const stdout = new TailBuffer(limit);
  const stderr = new TailBuffer(limit);

  return new Promise<CommandResult>((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      shell: false,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let timedOut = false;
    let exitCode: number | null = null;
    let graceTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      if (child.pid === undefined) return;
      timedOut = true;
      killGroup(child.pid, "SIGTERM");
      const pid = child.pid;
      graceTimer = setTimeout(() => killGroup(pid, "SIGKILL"), opts.killGraceMs ?? 2000);
    }, opts.timeoutMs);

    child.stdout.on("data", (d: Buffer) => stdout.push(d));
    child.stderr.on("data", (d: Buffer) => stderr.push(d));
    child.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      const code = err.code === "ENOENT" ? 127 : 126;
      resolve({ exitCode: code, stdout: "", stderr: `cannot run '${cmd}': ${err.message}`, timedOut: false });
    });
    child.once("exit", (code) => {
      exitCode = code;
      // Reap background children the command left behind; they would hold the pipes open.
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
    });
    child.once("close", () => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      resolve({ exitCode, stdout: stdout.toString(), stderr: stderr.toString(), timedOut });
    });
  });
}

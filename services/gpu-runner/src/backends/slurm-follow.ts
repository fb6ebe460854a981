import { open } from "node:fs/promises";
import type { JobProgress } from "@mllead/contracts";
import { LineSplitter, MISSING, onCode, type ProcessOutcome } from "@mllead/sandbox";
import type { Logger } from "pino";
import { SlurmCommandError } from "../errors.js";
import type { JobOutput } from "../job-log.js";
import { ProgressThrottle, parseOutputLine } from "../progress.js";
import type { SlurmJobInfo, SlurmPort } from "../slurm-cli.js";

/**
 * Follows the file Slurm writes a job's output to (stdout and stderr together, `--output`), from its start:
 * every byte to the job's capped log, progress lines (throttled) to `onProgress`, other lines to the tail.
 */
export class OutputFollower {
  private offset = 0;
  private readonly lines: LineSplitter;
  private readonly throttle: ProgressThrottle;

  constructor(
    private readonly path: string,
    private readonly output: JobOutput,
    onProgress: (p: JobProgress) => void,
    progressIntervalMs: number,
  ) {
    this.throttle = new ProgressThrottle(onProgress, progressIntervalMs);
    this.lines = new LineSplitter((line) => {
      const parsed = parseOutputLine(line);
      if (parsed.kind === "progress") this.throttle.offer(parsed.progress);
      else output.tail.push(parsed.line);
    });
  }

  /** Reads what was written since the last call (nothing while the file does not exist yet). */
  async read(): Promise<void> {
    const fh = await open(this.path, "r").catch(onCode(MISSING, null));
    if (!fh) return;
    try {
      const buf = Buffer.alloc(256 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) return;
        this.offset += bytesRead;
        const chunk = Uint8Array.prototype.slice.call(buf, 0, bytesRead);
        this.output.logFile.write(chunk);
        this.lines.write(chunk);
      }
    } finally {
      await fh.close();
    }
  }

  /** The last partial line and the held-back progress update go out. */
  end(): void {
    this.lines.end();
    this.throttle.flush();
  }
}

/** How following a Slurm job ended: the job ended (its outcome), or the runner stopped following (shutdown). */
export type Followed = { kind: "ended"; proc: ProcessOutcome; node: string | null } | { kind: "detached" };

/** What `followSlurmJob` needs: the CLIs, how often to ask, and the signals that end the wait early. */
export interface FollowContext {
  slurm: SlurmPort;
  pollMs: number;
  /** Aborted when the task is cancelled: the job is cancelled on the cluster. */
  cancel: AbortSignal;
  /** Aborted when the runner stops: following ends, the job goes on. */
  shutdown: AbortSignal;
  log: Logger;
  /** Called once when Slurm starts the job (RUNNING), with the node it runs on. */
  onStarted: (node: string | null) => Promise<void>;
}

function sleep(ms: number, signals: AbortSignal[]): Promise<void> {
  const any = AbortSignal.any(signals);
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      any.removeEventListener("abort", done);
      resolve();
    }
    any.addEventListener("abort", done, { once: true });
  });
}

/** A Slurm job's end as a process outcome; any end but COMPLETED with exit code 0 counts as a failure. */
export function outcomeFromSlurm(info: SlurmJobInfo, timedOutByRunner: boolean): ProcessOutcome {
  const exitCode = info.state !== "COMPLETED" && info.exitCode === 0 ? null : info.exitCode;
  const timedOut = timedOutByRunner || info.state === "TIMEOUT";
  return {
    exitCode,
    signal: info.signal,
    timedOut,
    stopped: info.state === "CANCELLED" && !timedOut,
    durationMs: info.runSec * 1000,
  };
}

/**
 * Polls the Slurm job every `pollMs` (sooner on a cancel or a stop) until it ends, reading its output as it goes.
 * A cancelled task is `scancel`ed; a job that runs past `timeoutSec` is cancelled and counts as timed out (Slurm's
 * own limit is in whole minutes, a backstop when no runner follows the job). A runner that stops leaves the job
 * running and says `detached`. A Slurm command that fails is logged and asked again at the next poll.
 */
export async function followSlurmJob(
  ctx: FollowContext,
  slurmJobId: string,
  timeoutSec: number,
  out: { follower: OutputFollower; note: (text: string) => void },
): Promise<Followed> {
  let started = false;
  let cancelSent = false;
  let timedOut = false;
  const cancel = async (why: string) => {
    cancelSent = true;
    out.note(why);
    await ctx.slurm.cancel(slurmJobId);
  };
  for (;;) {
    try {
      const info = await ctx.slurm.show(slurmJobId);
      await out.follower.read();
      if (!info) {
        out.follower.end();
        out.note(`Slurm no longer knows job ${slurmJobId} (and has no accounting database to ask): its exit status is lost`);
        return {
          kind: "ended",
          proc: { exitCode: null, signal: null, timedOut: false, stopped: false, durationMs: 0 },
          node: null,
        };
      }
      if (!started && info.state !== "PENDING" && info.state !== "CONFIGURING") {
        started = true;
        await ctx.onStarted(info.node);
      }
      if (info.final) {
        out.follower.end();
        if (!cancelSent && info.state !== "COMPLETED" && info.state !== "FAILED")
          out.note(`Slurm ended the job: ${info.state}${info.reason ? ` (${info.reason})` : ""}`);
        return { kind: "ended", proc: outcomeFromSlurm(info, timedOut), node: info.node };
      }
      if (ctx.shutdown.aborted && !ctx.cancel.aborted) return { kind: "detached" };
      if (!cancelSent && ctx.cancel.aborted) await cancel("the job was stopped before it finished");
      else if (!cancelSent && info.runSec >= timeoutSec) {
        timedOut = true;
        await cancel(`timed out after ${timeoutSec}s; the Slurm job was cancelled`);
      }
    } catch (err) {
      if (!(err instanceof SlurmCommandError)) throw err;
      ctx.log.warn({ err, slurmJobId }, "a Slurm command failed while following the job; asking again");
      if (ctx.shutdown.aborted && !ctx.cancel.aborted) return { kind: "detached" };
    }
    // A signal already aborted has been acted on: it no longer cuts the wait short.
    await sleep(
      ctx.pollMs,
      [ctx.cancel, ctx.shutdown].filter((s) => !s.aborted),
    );
  }
}

import { execFile } from "node:child_process";
import { constants } from "node:os";
import { SlurmCommandError } from "./errors.js";

/** Slurm job states after which nothing more happens to the job (see `squeue --help`, JOB STATE CODES). */
const FINAL = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "BOOT_FAIL",
  "DEADLINE",
  "PREEMPTED",
  "SPECIAL_EXIT",
  "REVOKED",
]);

/** A Slurm job as `scontrol show job` (or `sacct`) describes it. */
export interface SlurmJobInfo {
  /** E.g. PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT. */
  state: string;
  /** True once the state is final (the job's processes are gone and its exit code is known). */
  final: boolean;
  /** The batch script's exit code (Slurm's `ExitCode=N:S`, N); null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it (S), by name, e.g. SIGTERM; null when it exited. */
  signal: string | null;
  /** Seconds it has run (Slurm's RunTime). */
  runSec: number;
  /** The node that runs the batch script, once it started. */
  node: string | null;
  /** Slurm's reason (why it pends, or why it ended). */
  reason: string | null;
}

/** What the runner asks of Slurm: the four CLIs, behind one port so the backend can be read without them. */
export interface SlurmPort {
  /** Submits a batch script (`sbatch --parsable`); the Slurm job id. */
  submit(script: string, args: readonly string[]): Promise<string>;
  /** The job, or null when the controller and the accounting database (if any) no longer know it. */
  show(slurmJobId: string): Promise<SlurmJobInfo | null>;
  /** The id of the newest job with this name that the controller still knows, or null. */
  findByName(name: string): Promise<string | null>;
  /** The ids of the jobs with this name that have not ended yet (pending, running, completing), oldest first. */
  activeByName(name: string): Promise<string[]>;
  /** Cancels the job (`scancel`); its batch script gets SIGTERM, then SIGKILL after Slurm's KillWait. */
  cancel(slurmJobId: string): Promise<void>;
}

/** Reads `[D-]HH:MM:SS`, `MM:SS` (Slurm's RunTime) as seconds; 0 for anything else. */
export function parseDuration(text: string): number {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(text.trim());
  if (!m) return 0;
  return Number(m[1] ?? 0) * 86_400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

function signalName(n: number): string {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `SIG${n}`;
}

/** Slurm's `ExitCode=N:S` as an exit code or a signal. */
export function parseExitCode(text: string): { exitCode: number | null; signal: string | null } {
  const [code, sig] = text.split(":").map(Number);
  if (sig !== undefined && Number.isInteger(sig) && sig > 0) return { exitCode: null, signal: signalName(sig) };
  return { exitCode: Number.isInteger(code) ? (code as number) : null, signal: null };
}

function field(line: string, name: string): string | null {
  const m = new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(line);
  return m?.[1] ?? null;
}

/** One job from `scontrol show job -o <id>` (a line of `Key=Value` pairs). */
export function parseScontrolJob(line: string): SlurmJobInfo {
  const state = field(line, "JobState");
  if (!state) throw new SlurmCommandError(`scontrol show job answered no JobState: ${line.slice(0, 200)}`);
  const node = field(line, "BatchHost");
  const reason = field(line, "Reason");
  return {
    state,
    final: FINAL.has(state),
    ...parseExitCode(field(line, "ExitCode") ?? ""),
    runSec: parseDuration(field(line, "RunTime") ?? ""),
    node: node && node !== "(null)" ? node : null,
    reason: reason && reason !== "None" ? reason : null,
  };
}

/** One job from `sacct -n -P -X -o State,ExitCode,ElapsedRaw,NodeList` (`CANCELLED by 0` counts as CANCELLED). */
export function parseSacctJob(line: string): SlurmJobInfo {
  const [stateText = "", exit = "", elapsed = "", node = ""] = line.split("|");
  const state = stateText.split(" ")[0] ?? "";
  return {
    state,
    final: FINAL.has(state),
    ...parseExitCode(exit),
    runSec: Number(elapsed) || 0,
    node: node && node !== "None assigned" ? node : null,
    reason: null,
  };
}

/** How long one Slurm command may take before it is killed (ms). */
const CLI_TIMEOUT_MS = 60_000;

/**
 * What Slurm's commands print when the controller did not answer now — slurmctld restarting, failing over, or too
 * busy — rather than refusing the request: the texts of slurm_errno.c (`slurm_strerror`) for the communication
 * and protocol errors, the system's EAGAIN, and sbatch's own "temporarily unable to accept job". sbatch exits 1
 * for every refusal, so its message is what tells them apart; anything else (an invalid GRES, partition, account
 * or QoS, a bad option) is a refusal that asking again will not change.
 */
const PASSING = [
  /Socket timed out on send\/recv operation/i,
  /Unable to contact slurm controller/i,
  /Slurm controller not responding/i,
  /Communication connection failure/i,
  /Message (send|receive) failure/i,
  /Zero Bytes were transmitted or received/i,
  /Resource temporarily unavailable/i,
  /temporarily unable to accept job/i,
  /asking for clients to back ?off/i,
  /in standby mode/i,
  /Connection refused/i,
  /Connection timed out/i,
  /did not answer in \d+ s/,
];

/**
 * True when a Slurm command failed because the controller did not answer now (see PASSING): the same request may
 * succeed a moment later. False for any other failure, a refusal of the request itself included.
 */
export function isTransientSlurmError(err: unknown): boolean {
  return err instanceof SlurmCommandError && PASSING.some((re) => re.test(err.message));
}

/** The CLIs' settings: where they are, and which cluster they talk to. */
export interface SlurmCliOptions {
  /** Directory holding sbatch, squeue, scontrol, scancel, sacct. Default: found on PATH. */
  binDir?: string | undefined;
  /** The cluster's slurm.conf (SLURM_CONF); default the CLIs' own (/etc/slurm/slurm.conf). */
  conf?: string | undefined;
  /** The PATH the CLIs run with. */
  path: string;
}

/** The real Slurm CLIs, each run without a shell and with a minimal environment. */
export class SlurmCli implements SlurmPort {
  constructor(private readonly opts: SlurmCliOptions) {}

  private exec(cmd: string, args: readonly string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    const bin = this.opts.binDir ? `${this.opts.binDir}/${cmd}` : cmd;
    const env: Record<string, string> = { PATH: this.opts.path };
    if (this.opts.conf) env.SLURM_CONF = this.opts.conf;
    return new Promise((resolve, reject) => {
      execFile(bin, [...args], { env, timeout: CLI_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err?.killed) reject(new SlurmCommandError(`${cmd} did not answer in ${CLI_TIMEOUT_MS / 1000} s`, { cause: err }));
        else if (err && typeof err.code !== "number")
          reject(new SlurmCommandError(`${cmd} could not be run: ${err.message}`, { cause: err }));
        else resolve({ stdout, stderr, code: err ? (err.code as number) : 0 });
      });
    });
  }

  private async ok(cmd: string, args: readonly string[]): Promise<string> {
    const r = await this.exec(cmd, args);
    if (r.code !== 0) throw new SlurmCommandError(`${cmd} exited with ${r.code}: ${r.stderr.trim().slice(0, 500)}`);
    return r.stdout;
  }

  async submit(script: string, args: readonly string[]): Promise<string> {
    // --parsable prints `<id>` or `<id>;<cluster>`.
    const id = (await this.ok("sbatch", ["--parsable", ...args, script])).trim().split(";")[0] ?? "";
    if (!/^\d+$/.test(id)) throw new SlurmCommandError(`sbatch answered no job id: '${id}'`);
    return id;
  }

  async show(slurmJobId: string): Promise<SlurmJobInfo | null> {
    const r = await this.exec("scontrol", ["show", "job", "-o", slurmJobId]);
    if (r.code === 0 && r.stdout.trim()) return parseScontrolJob(r.stdout.trim());
    if (!/Invalid job id/i.test(r.stderr))
      throw new SlurmCommandError(`scontrol show job exited with ${r.code}: ${r.stderr.trim().slice(0, 500)}`);
    // Purged from the controller (MinJobAge): the accounting database, where there is one, still knows it.
    const acct = await this.exec("sacct", ["-n", "-P", "-X", "-j", slurmJobId, "-o", "State,ExitCode,ElapsedRaw,NodeList"]);
    const line = acct.code === 0 ? acct.stdout.trim().split("\n")[0] : undefined;
    return line ? parseSacctJob(line) : null;
  }

  async findByName(name: string): Promise<string | null> {
    return (await this.idsNamed(name, ["--states=all"])).at(-1) ?? null;
  }

  async activeByName(name: string): Promise<string[]> {
    // squeue's default states: the jobs that have not ended.
    return this.idsNamed(name, []);
  }

  /** The ids of the jobs named `name` in squeue's answer (with `states`), oldest first. */
  private async idsNamed(name: string, states: string[]): Promise<string[]> {
    const out = await this.ok("squeue", ["-h", ...states, `--name=${name}`, "-o", "%i"]);
    const ids = out
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => /^\d+$/.test(l));
    return ids.sort((a, b) => Number(a) - Number(b));
  }

  async cancel(slurmJobId: string): Promise<void> {
    await this.ok("scancel", [slurmJobId]);
  }
}

import { whileTransient } from "@mllead/bus";
import type { GpuJob, JobResult } from "@mllead/contracts";
import type { Logger } from "pino";
import { type ClaimStore, decideClaim, type JobClaim } from "./claims.js";
import { ClaimHeldError } from "./errors.js";

/** A job this runner holds the claim of: the claim's run and revision, and how to stop it. */
export interface Held {
  taskId: string;
  run: number;
  revision: number;
  abort: AbortController;
  /** Set when the task was cancelled (so a stop is reported `cancelled`, not handed back). */
  cancelled: boolean;
  /** Taken up again from its claim at the runner's start: its delivery is not in hand (see `resumeInterrupted`). */
  resumed: boolean;
  /** Resolves when the job is released (its run here is over, however it ended). */
  done: Promise<void>;
  /** The Slurm job that runs it, once submitted (or found in the claim taken over). */
  slurmJobId?: string;
}

/** A claim's run and the revision this runner last wrote, and the Slurm job the claim names. */
export type ClaimRef = Pick<Held, "run" | "revision" | "slurmJobId">;

/**
 * The jobs this runner holds and their claims in `mllead_jobs`: taking a claim (exactly one runner runs a
 * job), renewing leases with each heartbeat, recording a result, handing a job back.
 */
export class HeldJobs {
  private readonly held = new Map<string, Held>();
  private readonly settle = new Map<string, () => void>();

  constructor(
    private readonly claims: ClaimStore,
    private readonly me: { runnerId: string; host: string },
    /** How old a lease may grow before another runner takes the job (ms). */
    private readonly staleMs: number,
    private readonly log: Logger,
  ) {}

  /** The ids of the jobs held now. */
  ids(): string[] {
    return [...this.held.keys()];
  }

  /** The jobs held now for `taskId`. */
  ofTask(taskId: string): [string, Held][] {
    return [...this.held].filter(([, h]) => h.taskId === taskId);
  }

  /** The job held now, if any. */
  get(jobId: string): Held | undefined {
    return this.held.get(jobId);
  }

  /** Holds a claimed job until `release` (its abort controller stops it); `resumed`: taken up from its claim. */
  hold(job: GpuJob, claim: ClaimRef, resumed = false): Held {
    let resolve = () => {};
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    const h: Held = { ...claim, taskId: job.taskId, abort: new AbortController(), cancelled: false, resumed, done: promise };
    this.held.set(job.jobId, h);
    this.settle.set(job.jobId, resolve);
    return h;
  }

  /** Forgets a job (its run is over, or it was handed back). */
  release(jobId: string): void {
    this.held.delete(jobId);
    this.settle.get(jobId)?.();
    this.settle.delete(jobId);
  }

  /**
   * Takes the job's claim; null when the job is already finished (`onFinished` is told its result, to
   * publish again). Throws ClaimHeldError when a live runner holds it or the race is lost five times.
   */
  async take(job: GpuJob, onFinished: (result: JobResult) => Promise<void>): Promise<ClaimRef | null> {
    for (let i = 0; i < 5; i++) {
      const cur = await this.claims.get(job.jobId);
      const step = await this.decide(job, cur, onFinished);
      if (step !== "retry") return step;
    }
    throw new ClaimHeldError(`lost the race for job ${job.jobId}`);
  }

  /** One try of `take`: the claim taken (its ref), the job finished (null), or "retry" after a lost race. */
  private async decide(
    job: GpuJob,
    cur: { value: JobClaim; revision: number } | null,
    onFinished: (result: JobResult) => Promise<void>,
  ): Promise<ClaimRef | null | "retry"> {
    const d = decideClaim(
      cur?.value ?? null,
      { runnerId: this.me.runnerId, runningHere: this.held.has(job.jobId) },
      Date.now(),
      this.staleMs,
    );
    switch (d.kind) {
      case "create": {
        const rev = await this.claims.create(this.claimOf(job, 1, "running"));
        if (rev !== null) return { run: 1, revision: rev };
        return "retry";
      }
      case "take": {
        const run = (cur?.value.run ?? 0) + 1;
        // A Slurm job goes on while no runner follows it: whoever takes a running claim over follows it.
        const slurmJobId = cur?.value.state === "running" ? cur.value.slurmJobId : undefined;
        const rev = await this.claims.replace(this.claimOf(job, run, "running", undefined, slurmJobId), cur?.revision ?? 0);
        if (rev !== null) {
          this.log.info(
            { jobId: job.jobId, why: d.why, previous: cur?.value.runnerId, run, slurmJobId },
            "running the job again",
          );
          return { run, revision: rev, ...(slurmJobId ? { slurmJobId } : {}) };
        }
        return "retry";
      }
      case "wait":
        throw new ClaimHeldError(`runner '${d.holder}' is running job ${job.jobId}`);
      case "finished":
        if (d.result) await onFinished(d.result);
        return null;
      default: {
        const never: never = d;
        throw new Error(`unknown claim decision ${JSON.stringify(never)}`);
      }
    }
  }

  /** Records the job's result in its claim; false when the claim changed meanwhile (the result stands anyway). */
  async finish(job: GpuJob, ref: ClaimRef, result: JobResult): Promise<boolean> {
    // Asked again through a cluster's leader election (~20 s): a claim left `running` after the job ended would make
    // the redelivered message look like this runner's interrupted run, and run the job twice. A repeat after a write
    // that did land finds a new revision: false, and the result is published all the same.
    const finished = this.claimOf(job, ref.run, "finished", result);
    return (await whileTransient(() => this.claims.replace(finished, ref.revision), 8)) !== null;
  }

  /**
   * Records in the running claim the Slurm job that runs the job, so that a restarted runner follows it; false
   * when the claim changed meanwhile.
   */
  async recordSlurmJob(job: GpuJob, h: Held, slurmJobId: string): Promise<boolean> {
    h.slurmJobId = slurmJobId;
    // The heartbeat renews the lease meanwhile: a lost race with it is tried again, a claim taken over is not.
    for (let i = 0; i < 5; i++) {
      const cur = await this.claims.get(job.jobId);
      if (!cur || cur.value.runnerId !== this.me.runnerId || cur.value.run !== h.run || cur.value.state !== "running")
        return false;
      const rev = await this.claims.replace({ ...cur.value, slurmJobId, leaseAt: new Date().toISOString() }, cur.revision);
      if (rev !== null) {
        h.revision = rev;
        return true;
      }
    }
    return false;
  }

  /** Marks the claim released, so another runner (or this one, restarted) runs the job at once; false when it changed. */
  async handBack(job: GpuJob, ref: ClaimRef): Promise<boolean> {
    return (await this.claims.replace(this.claimOf(job, ref.run, "released"), ref.revision)) !== null;
  }

  /** Renews the lease of every running job this runner still holds (with each heartbeat). */
  async renewLeases(): Promise<void> {
    for (const [jobId, h] of this.held) {
      const cur = await this.claims.get(jobId);
      if (!cur || cur.value.runnerId !== this.me.runnerId || cur.value.state !== "running") continue;
      const rev = await this.claims.replace({ ...cur.value, leaseAt: new Date().toISOString() }, cur.revision);
      if (rev !== null) h.revision = rev;
    }
  }

  /** Whether this runner may reap a leftover job's processes: its claim is gone or this runner's. */
  async isMine(jobId: string): Promise<boolean> {
    const claim = await this.claims.get(jobId);
    return !claim || claim.value.runnerId === this.me.runnerId;
  }

  /** The claim this runner writes; a `running` one carries the job, to be taken up again after a restart. */
  private claimOf(job: GpuJob, run: number, state: JobClaim["state"], result?: JobResult, slurmJobId?: string): JobClaim {
    return {
      jobId: job.jobId,
      runnerId: this.me.runnerId,
      host: this.me.host,
      state,
      run,
      leaseAt: new Date().toISOString(),
      ...(result ? { result } : {}),
      ...(state === "running" ? { job } : {}),
      ...(state === "running" && slurmJobId ? { slurmJobId } : {}),
    };
  }
}

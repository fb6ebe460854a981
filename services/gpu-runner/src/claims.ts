import { ConflictError, InvalidRecordError, type TypedKv } from "@mllead/bus";
import { GpuJob, JobResult } from "@mllead/contracts";
import { z } from "zod";

/**
 * A job's claim in `mllead_jobs` (key = jobId): who runs it and how far it got.
 * `running` claims carry a lease the holder renews every heartbeat; `released` means
 * the holder stopped it on purpose (shutdown); `finished` holds the result until the
 * `job.finished` event is surely published (an outbox of one). A `running` claim carries the job itself when
 * it fits in one record, so the holder, restarted, runs it again at once instead of waiting for its redelivery.
 */
export const JobClaim = z.object({
  jobId: z.string(),
  runnerId: z.string(),
  host: z.string(),
  state: z.enum(["running", "released", "finished"]),
  /** 1 for the first run; +1 each time the job is run again after an interruption. */
  run: z.number().int().positive(),
  leaseAt: z.iso.datetime({ offset: true }),
  result: JobResult.optional(),
  /** The job as delivered (only in `running` claims, and only when it fits the server's payload limit). */
  job: GpuJob.optional(),
  /**
   * The Slurm job running it (MLLEAD_RUNNER_BACKEND=slurm): a runner that takes the claim over follows that job
   * instead of submitting it again (kept across take-overs of a `running` claim).
   */
  slurmJobId: z.string().regex(/^\d+$/).optional(),
});
export type JobClaim = z.infer<typeof JobClaim>;

/** What a runner does with a delivered job, given the claim it found. */
export type ClaimDecision =
  /** No claim: create one. */
  | { kind: "create" }
  /** Take the claim over (CAS on its revision): it is ours from before a restart, released, or its holder is dead. */
  | { kind: "take"; why: "own_interrupted" | "released" | "stale" }
  /** A live runner (maybe this one) is running it: leave it, ask again later. */
  | { kind: "wait"; holder: string }
  /** Finished: publish the stored result again (deduplicated) and ack. */
  | { kind: "finished"; result: JobResult | undefined };

/** Decides from a claim alone; pure, so every branch is unit-tested. */
export function decideClaim(
  claim: JobClaim | null,
  me: { runnerId: string; runningHere: boolean },
  nowMs: number,
  staleAfterMs: number,
): ClaimDecision {
  if (!claim) return { kind: "create" };
  if (claim.state === "finished") return { kind: "finished", result: claim.result };
  if (claim.state === "released") return { kind: "take", why: "released" };
  if (claim.runnerId === me.runnerId) {
    return me.runningHere ? { kind: "wait", holder: claim.runnerId } : { kind: "take", why: "own_interrupted" };
  }
  const age = nowMs - Date.parse(claim.leaseAt);
  return age > staleAfterMs ? { kind: "take", why: "stale" } : { kind: "wait", holder: claim.runnerId };
}

/** Reads and writes claims with compare-and-swap. */
export class ClaimStore {
  /** `maxBytes`: the server's payload limit; a claim whose job would not fit is written without it. */
  constructor(
    private readonly kv: TypedKv<typeof JobClaim>,
    private readonly maxBytes: () => number = () => Number.POSITIVE_INFINITY,
  ) {}

  /**
   * The `running` claims that name `runnerId` and carry their job: what a runner that died mid-job left. A claim
   * deleted since the listing is skipped, and so is one that does not parse (it names no job to run).
   */
  async interrupted(runnerId: string): Promise<{ value: JobClaim & { job: GpuJob }; revision: number }[]> {
    const out: { value: JobClaim & { job: GpuJob }; revision: number }[] = [];
    for (const key of await this.kv.keys()) {
      const cur = await this.kv.get(key).catch((err: unknown) => {
        if (err instanceof InvalidRecordError) return null;
        throw err;
      });
      const job = cur?.value.job;
      if (cur && job && cur.value.runnerId === runnerId && cur.value.state === "running") {
        out.push({ value: { ...cur.value, job }, revision: cur.revision });
      }
    }
    return out;
  }

  async get(jobId: string): Promise<{ value: JobClaim; revision: number } | null> {
    return this.kv.get(jobId);
  }

  /** Creates the claim; null when another runner created it first. */
  async create(claim: JobClaim): Promise<number | null> {
    return this.kv.create(claim.jobId, this.fitting(claim));
  }

  /** Replaces the claim if it is still at `revision`; null when someone else changed it first. */
  async replace(claim: JobClaim, revision: number): Promise<number | null> {
    try {
      return await this.kv.update(claim.jobId, this.fitting(claim), revision);
    } catch (err) {
      if (err instanceof ConflictError) return null;
      throw err;
    }
  }

  /** The claim, without its job when with it the record would pass the payload limit (with room for headers). */
  private fitting(claim: JobClaim): JobClaim {
    if (!claim.job || Buffer.byteLength(JSON.stringify(claim)) <= this.maxBytes() - 1024) return claim;
    const { job: _dropped, ...rest } = claim;
    return rest;
  }
}

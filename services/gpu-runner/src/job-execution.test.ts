import { ConflictError, type MessageContext, type TypedKv } from "@mllead/bus";
import { CONSUMERS } from "@mllead/contracts";
import { testGpuJob } from "@mllead/contracts/testing";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { JobBackend } from "./backends/backend.js";
import { ClaimStore, type JobClaim } from "./claims.js";
import { TransientFailureError } from "./errors.js";
import { HeldJobs } from "./held-jobs.js";
import { runClaimedJob } from "./job-execution.js";
import { jobIntake } from "./job-intake.js";
import type { RunnerCore } from "./runner-core.js";

const log = pino({ level: "silent" });

/** The claims bucket in memory, with the compare-and-swap of `mllead_jobs`. */
function claimsBucket() {
  const records = new Map<string, { value: JobClaim; revision: number }>();
  let seq = 0;
  const kv = {
    keys: async () => [...records.keys()],
    get: async (key: string) => records.get(key) ?? null,
    create: async (key: string, value: JobClaim) => {
      if (records.has(key)) return null;
      records.set(key, { value, revision: ++seq });
      return seq;
    },
    update: async (key: string, value: JobClaim, revision: number) => {
      if (records.get(key)?.revision !== revision) throw new ConflictError(`'${key}' is no longer at ${revision}`);
      records.set(key, { value, revision: ++seq });
      return seq;
    },
  };
  return { store: new ClaimStore(kv as unknown as TypedKv<typeof JobClaim>), records };
}

const job = testGpuJob();

/** A runner whose backend fails every run with `failure`, holding its claims in `store`. */
function runner(store: ClaimStore, runnerId: string, failure: Error) {
  const held = new HeldJobs(store, { runnerId, host: "test-host" }, 30_000, log);
  const backend: JobBackend = {
    kind: "local",
    placesOnOwnGpus: true,
    run: async () => {
      throw failure;
    },
  };
  const core = { held, backend, records: { cancelled: async () => false } } as unknown as RunnerCore;
  return { core, held };
}

describe("runClaimedJob when the job could not start", () => {
  it("hands the claim back when NATS did not answer, so another runner takes the job at once", async () => {
    const { store, records } = claimsBucket();
    const a = runner(store, "runner-a", new TransientFailureError("could not reach the job's inputs: NATS did not answer"));
    const ref = await a.held.take(job, async () => {});
    expect(ref).not.toBeNull();
    const h = a.held.hold(job, ref as NonNullable<typeof ref>);
    await expect(runClaimedJob(a.core, job, h, log)).rejects.toBeInstanceOf(TransientFailureError);
    expect(records.get(job.jobId)?.value).toMatchObject({ state: "released", runnerId: "runner-a" });

    // The job was not failed: no result is recorded, and the next runner to get the message runs it (run 2).
    const b = runner(store, "runner-b", new Error("unused"));
    expect(await b.held.take(job, async () => {})).toMatchObject({ run: 2 });
    expect(records.get(job.jobId)?.value).toMatchObject({ state: "running", runnerId: "runner-b", run: 2 });
  });

  it("keeps the claim on any other failure (the holder's lease decides who runs the job again)", async () => {
    const { store, records } = claimsBucket();
    const a = runner(store, "runner-a", new Error("boom"));
    const ref = await a.held.take(job, async () => {});
    const h = a.held.hold(job, ref as NonNullable<typeof ref>);
    await expect(runClaimedJob(a.core, job, h, log)).rejects.toThrow("boom");
    expect(records.get(job.jobId)?.value).toMatchObject({ state: "running", runnerId: "runner-a" });
  });
});

describe("jobIntake on a job's last delivery", () => {
  /** The intake of a runner whose backend hands every job back with `failure`; what it publishes is kept. */
  function intake(failure: Error) {
    const { store } = claimsBucket();
    const { core } = runner(store, "runner-a", failure);
    const published: { subject: string; payload: unknown }[] = [];
    Object.assign(core, {
      shutdown: new AbortController().signal,
      records: { refusal: async () => null, cancelled: async () => false },
      backend: { ...core.backend, placesOnOwnGpus: false },
      bus: {
        lastMessage: async () => null,
        publish: async (subject: string, _schema: unknown, payload: unknown) => {
          published.push({ subject, payload });
          return { seq: published.length, duplicate: false };
        },
      },
    });
    return { handle: jobIntake(core, {} as never), published };
  }
  const ctx = (deliveryCount: number) => ({ deliveryCount, log, subject: "mllead.work.gpu" }) as unknown as MessageContext;

  it("hands the job back on earlier deliveries, and reports it failed with the reason on the last instead of letting it drop", async () => {
    const { handle, published } = intake(new TransientFailureError("Slurm did not accept the job after 4 tries"));
    await expect(handle(job, ctx(1))).rejects.toBeInstanceOf(TransientFailureError);
    expect(published).toEqual([]);

    await handle(job, ctx(CONSUMERS.gpuRunner.maxDeliver));
    const finished = published.map((p) => p.payload as { type: string; result: { outcome: string; logTail: string[] } });
    expect(finished).toHaveLength(1);
    expect(finished[0]?.type).toBe("job.finished");
    expect(finished[0]?.result.outcome).toBe("failed");
    expect(finished[0]?.result.logTail.join("\n")).toMatch(/handed back after 10 deliveries.*Slurm did not accept the job/);
  });

  it("lets any other failure go back to JetStream on the last delivery too (nothing is reported for it)", async () => {
    const { handle, published } = intake(new Error("boom"));
    await expect(handle(job, ctx(CONSUMERS.gpuRunner.maxDeliver))).rejects.toThrow("boom");
    expect(published).toEqual([]);
  });
});

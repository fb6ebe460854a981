import type { MessageContext, TypedKv } from "@mllead/bus";
import { CONSUMERS, type GpuJob, lastEvent, type RunnerHeartbeat, SUBJECTS } from "@mllead/contracts";
import { ShuttingDownError } from "@mllead/service-kit";
import { BetterElsewhereError, DevicesBusyError, TransientFailureError } from "./errors.js";
import type { Held } from "./held-jobs.js";
import { notRunResult } from "./job-events.js";
import { runClaimedJob } from "./job-execution.js";
import { otherRunnerFits } from "./placement.js";
import { emitFinished, type RunnerCore } from "./runner-core.js";

/**
 * The handler of `mllead.work.gpu`: a job is refused when no step of its task asked for it, skipped when it
 * finished already, handed back when another live runner has the GPUs this host lacks, and otherwise claimed
 * (exactly one runner runs it) and run. Throwing hands the message back for a later delivery. The old delivery
 * of a job this runner took up again from its claim at start is held until that run ends, then acked.
 */
export function jobIntake(
  core: RunnerCore,
  runners: TypedKv<typeof RunnerHeartbeat>,
): (job: GpuJob, ctx: MessageContext) => Promise<void> {
  const take = takeJob(core, runners);
  return async (job, ctx) => {
    try {
      await take(job, ctx);
    } catch (err) {
      // JetStream drops a message after its last delivery without a word: a job handed back that often (never a
      // GPU free, NATS or Slurm silent for minutes) is reported failed instead, so its step hears why.
      if (!isLastHandBack(err, ctx) || core.shutdown.aborted) throw err;
      const reason = `not run: handed back after ${ctx.deliveryCount} deliveries, the last time because ${(err as Error).message}`;
      ctx.log.error(
        { err, jobId: job.jobId, deliveries: ctx.deliveryCount },
        "gave up on a GPU job handed back on every delivery",
      );
      await emitFinished(core, job, notRunResult(reason, core.host));
    }
  };
}

/**
 * True for a hand-back (devices busy, better placed elsewhere, NATS or Slurm not answering) on the consumer's last
 * delivery. Not for a claim another runner holds: that runner is running the job and reports it.
 */
function isLastHandBack(err: unknown, ctx: MessageContext): boolean {
  const handBack = err instanceof BetterElsewhereError || err instanceof DevicesBusyError || err instanceof TransientFailureError;
  return handBack && ctx.deliveryCount >= CONSUMERS.gpuRunner.maxDeliver;
}

/** One delivery of a job: refused, skipped, handed back (thrown) or claimed and run. */
function takeJob(
  core: RunnerCore,
  runners: TypedKv<typeof RunnerHeartbeat>,
): (job: GpuJob, ctx: MessageContext) => Promise<void> {
  return async (job, ctx) => {
    if (core.shutdown.aborted) throw new ShuttingDownError("runner is shutting down");
    const log = ctx.log.child({ jobId: job.jobId, taskId: job.taskId });
    const refused = await core.records.refusal(job);
    if (refused) {
      log.warn({ reason: refused, stepId: job.stepId, attempt: job.attempt }, "refused a GPU job no step of its task asked for");
      return;
    }
    const resumed = core.held.get(job.jobId);
    if (resumed?.resumed) await followResumed(core, resumed, log);
    if (await lastEvent(core.bus, SUBJECTS.event({ type: "job.finished", taskId: job.taskId, jobId: job.jobId }))) {
      log.info("job already finished; skipping the duplicate");
      return;
    }
    // With Slurm the cluster has the GPUs, not this host.
    const short = core.backend.placesOnOwnGpus && job.gpus > core.allocator.devices.length;
    if (short && (await otherRunnerFits(runners, core.runnerId, job.gpus))) {
      throw new BetterElsewhereError(`job ${job.jobId} needs ${job.gpus} GPUs; another runner has them`);
    }
    const claim = await core.held.take(job, (result) => emitFinished(core, job, result));
    if (!claim) return;
    const h = core.held.hold(job, claim);
    try {
      await runClaimedJob(core, job, h, log);
    } finally {
      core.held.release(job.jobId);
    }
  };
}

/**
 * The delivery of a job this runner took up again at start came back (its ack wait ran out): the claim is the
 * lock, so it does not run the job a second time; it stays in hand (keeping the job on the queue should this
 * runner die again) until the resumed run ends, and is then acked as done — or, had the run not finished,
 * handled like any delivery.
 */
async function followResumed(core: RunnerCore, h: Held, log: MessageContext["log"]): Promise<void> {
  log.info({ run: h.run }, "the old delivery of a resumed job came back; holding it until that run ends");
  await h.done;
  if (core.shutdown.aborted) throw new ShuttingDownError("runner is shutting down");
}

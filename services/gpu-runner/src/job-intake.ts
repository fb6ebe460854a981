import { InvalidRecordError, type MessageContext, type TypedKv } from "@mllead/bus";
import { type GpuJob, lastEvent, type RunnerHeartbeat, SUBJECTS } from "@mllead/contracts";
import { ShuttingDownError } from "@mllead/service-kit";
import { BetterElsewhereError } from "./errors.js";
import { runClaimedJob } from "./job-execution.js";
import { emitFinished, type RunnerCore } from "./runner-core.js";

/**
 * The handler of `mllead.work.gpu`: a job is refused when no step of its task asked for it, skipped when it
 * finished already, handed back when another live runner has the GPUs this host lacks, and otherwise claimed
 * (exactly one runner runs it) and run. Throwing hands the message back for a later delivery.
 */
export function jobIntake(
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
    if (await lastEvent(core.bus, SUBJECTS.event({ type: "job.finished", taskId: job.taskId, jobId: job.jobId }))) {
      log.info("job already finished; skipping the duplicate");
      return;
    }
    const short = job.gpus > core.allocator.devices.length;
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

/** Whether some other live runner has at least `gpus` GPUs (so this host should not take the job). */
async function otherRunnerFits(runners: TypedKv<typeof RunnerHeartbeat>, me: string, gpus: number): Promise<boolean> {
  for (const key of await runners.keys()) {
    if (key === me) continue;
    // A heartbeat deleted since the listing (its runner stopped) is no runner; nor is one that does not parse.
    const hb = await runners.get(key).catch((err: unknown) => {
      if (err instanceof InvalidRecordError) return null;
      throw err;
    });
    if (hb && hb.value.gpus.length >= gpus) return true;
  }
  return false;
}

import { lastEvent, SUBJECTS } from "@mllead/contracts";
import { ShuttingDownError } from "@mllead/service-kit";
import type { ClaimStore } from "./claims.js";
import { ClaimHeldError } from "./errors.js";
import { runClaimedJob } from "./job-execution.js";
import { emitFinished, type RunnerCore } from "./runner-core.js";

/** The runs taken up again at start; `settled` resolves when all of them have ended (for a graceful stop). */
export interface Resumed {
  jobIds: string[];
  settled: Promise<void>;
}

/**
 * Takes up again, at once, the jobs this runner was running when it died: the `running` claims that name it
 * (read before it takes new work; their processes were reaped already). Each claim is taken over by
 * compare-and-swap (run + 1), so the job runs exactly once even though its old delivery is still pending in
 * JetStream: when that delivery comes back it finds the run held here (see `jobIntake`) or finished.
 */
export async function resumeInterrupted(core: RunnerCore, claims: ClaimStore): Promise<Resumed> {
  const runs: Promise<void>[] = [];
  const jobIds: string[] = [];
  for (const { value } of await claims.interrupted(core.runnerId)) {
    const { job } = value;
    const log = core.log.child({ jobId: job.jobId, taskId: job.taskId });
    if (await lastEvent(core.bus, SUBJECTS.event({ type: "job.finished", taskId: job.taskId, jobId: job.jobId }))) continue;
    const ref = await core.held
      .take(job, (result) => emitFinished(core, job, result))
      .catch((err: unknown) => {
        // Another runner took the claim over meanwhile (its lease had gone stale): the job is its now.
        if (err instanceof ClaimHeldError) return null;
        throw err;
      });
    if (!ref) continue;
    log.info({ run: ref.run }, "resuming an interrupted job from its claim");
    core.metrics.resumed();
    const h = core.held.hold(job, ref, true);
    jobIds.push(job.jobId);
    runs.push(
      runClaimedJob(core, job, h, log)
        .catch((err: unknown) => {
          // A stop hands the claim back; any other failure leaves the claim ours: its delivery runs it again.
          if (err instanceof ShuttingDownError) log.info("resumed job handed back at shutdown");
          else log.error({ err }, "a resumed job failed; its redelivery will run it again");
        })
        .finally(() => core.held.release(job.jobId)),
    );
  }
  return { jobIds, settled: Promise.all(runs).then(() => undefined) };
}

import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import { TransientFailureError } from "../errors.js";
import { isTransientSlurmError, type SlurmPort } from "../slurm-cli.js";

/** How `submitPatiently` asks again: how many submissions in all, and the wait before try `n + 1` (ms). */
export interface SubmitRetry {
  tries: number;
  waitMs: (tryNo: number) => number;
}

/**
 * Four submissions, 2, 4 and 8 s apart: long enough for slurmctld to restart or fail over. sbatch itself waits
 * MessageTimeout (10 s by default) for an answer, so against a controller that is gone the four take about 50 s
 * (measured on the tests' one-node cluster) before the job is handed back.
 */
export const SUBMIT_RETRY: SubmitRetry = { tries: 4, waitMs: (n) => 2000 * 2 ** (n - 1) };

/**
 * Cancels the jobs named `name` other than `keep`: a submission that timed out can still reach slurmctld once it
 * answers again (measured: sbatch against a slurmctld stopped for 15 s timed out after 10 s, and the controller
 * queued that job all the same when it resumed, beside the one submitted again). Such a job is older than `keep`, so
 * it is there to be found now. A failure to look or cancel is logged: the job runs, a duplicate may run beside it.
 */
async function cancelLostSubmissions(slurm: SlurmPort, name: string, keep: string, log: Logger): Promise<void> {
  try {
    for (const other of await slurm.activeByName(name)) {
      if (other === keep) continue;
      log.warn(
        { slurmJobId: other, following: keep },
        "cancelling a second Slurm job of the same job (a submission whose answer was lost)",
      );
      await slurm.cancel(other);
    }
  } catch (err) {
    log.warn({ err, slurmJobId: keep }, "could not look for a second Slurm job of the same job; one may run beside it");
  }
}

/**
 * Submits the batch script with sbatch, asking again (`retry`) while the controller does not answer (see
 * `isTransientSlurmError`); a refusal of the request itself (an invalid GRES or partition) is thrown at once.
 * A timed-out submission may have reached the controller all the same, so before each new try it looks for a
 * Slurm job of the job's `name` and takes that one rather than submitting twice; after a retry, any other job of
 * that name still queued (a lost submission the controller took later) is cancelled. When the controller stays silent
 * through every try, or the runner stops (`stop`) meanwhile, it throws a TransientFailureError: the job is handed
 * back and a later delivery submits it.
 */
export async function submitPatiently(
  slurm: SlurmPort,
  submission: { script: string; args: readonly string[]; name: string },
  opts: { retry: SubmitRetry; stop: AbortSignal; log: Logger },
): Promise<string> {
  for (let tryNo = 1; ; tryNo++) {
    try {
      if (tryNo === 1) return await slurm.submit(submission.script, submission.args);
      const found = await slurm.findByName(submission.name);
      if (found)
        opts.log.info({ slurmJobId: found, tries: tryNo - 1 }, "a submission whose answer was lost reached Slurm; following it");
      const id = found ?? (await slurm.submit(submission.script, submission.args));
      await cancelLostSubmissions(slurm, submission.name, id, opts.log);
      return id;
    } catch (err) {
      if (!isTransientSlurmError(err)) throw err;
      const giveUp = () =>
        new TransientFailureError(`Slurm did not accept the job after ${tryNo} tries: ${(err as Error).message}`, {
          cause: err,
        });
      if (tryNo >= opts.retry.tries) throw giveUp();
      const waitMs = opts.retry.waitMs(tryNo);
      opts.log.warn({ err, tryNo, retryInMs: waitMs }, "Slurm's controller did not answer the submission; asking again");
      // A stop ends the wait early (the abort is not an error here: the job is handed back just below).
      await delay(waitMs, undefined, { signal: opts.stop }).catch((waitErr: unknown) => {
        if (!opts.stop.aborted) throw waitErr;
      });
      if (opts.stop.aborted) throw giveUp();
    }
  }
}

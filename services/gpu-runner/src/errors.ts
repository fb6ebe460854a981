import { codedError } from "@mllead/service-kit";

/**
 * Every error the runner throws, one code each (fastify's `lib/errors.js` table). A code is stable: logs and
 * the bus's redelivery carry it, so it never changes meaning. A runner stopping throws service-kit's
 * `ShuttingDownError` (`shutting_down`).
 */
export const RunnerErrorCode = {
  /** Another live runner has the GPUs this host lacks: the job is handed back for it. */
  BetterElsewhere: "better_elsewhere",
  /** A live runner holds the job's claim: the message is looked at again later. */
  ClaimHeld: "claim_held",
  /** The job's devices are busy here while another live runner has a free slot: the job is handed on to it. */
  DevicesBusy: "devices_busy",
  /** A job's input (or shipped worktree) is not in the Object Store: the job fails. */
  MissingInput: "missing_input",
  /** A shipped worktree holds an entry the runner does not unpack: the job fails. */
  UnsafeArchive: "unsafe_archive",
  /** A job file or input path leaves the job's directory: the job fails. */
  PathEscape: "path_escape",
  /** A Slurm command (sbatch, squeue, scontrol, scancel) failed or answered what the runner cannot read. */
  SlurmCommand: "slurm_command",
  /**
   * Something the job needs did not answer for a passing reason (NATS electing a leader while the job's inputs are
   * fetched, Slurm's controller not answering sbatch): not the job's fault, so the job is handed back to run later.
   */
  TransientFailure: "transient_failure",
} as const;
export type RunnerErrorCode = (typeof RunnerErrorCode)[keyof typeof RunnerErrorCode];

/**
 * The base of the runner's errors: a stable `code` from `RunnerErrorCode`, `name` set, `cause` kept. Each error
 * below is a `codedError` of it, built as `new ClaimHeldError(message, { cause })`.
 */
export abstract class RunnerError extends Error {
  abstract readonly code: RunnerErrorCode;
  override readonly name: string = "RunnerError";
}

/** Another live runner has the GPUs this host lacks: the job is handed back for it. */
export const BetterElsewhereError = codedError(RunnerError, RunnerErrorCode.BetterElsewhere, "BetterElsewhereError");
/** A live runner holds this job's claim; the message is handed back to be looked at later. */
export const ClaimHeldError = codedError(RunnerError, RunnerErrorCode.ClaimHeld, "ClaimHeldError");
/** The job's devices are busy here and another live runner has room: the claim and the message are handed back. */
export const DevicesBusyError = codedError(RunnerError, RunnerErrorCode.DevicesBusy, "DevicesBusyError");
/** An input that is not in the Object Store. */
export const MissingInputError = codedError(RunnerError, RunnerErrorCode.MissingInput, "MissingInputError");
/** A shipped worktree holds an entry the runner does not unpack; the job fails with this message. */
export const UnsafeArchiveError = codedError(RunnerError, RunnerErrorCode.UnsafeArchive, "UnsafeArchiveError");
/** A job's file or input path that leaves the job's directory (checked with the sandbox's `resolveInside`). */
export const PathEscapeError = codedError(RunnerError, RunnerErrorCode.PathEscape, "PathEscapeError");
/** A Slurm command failed (its stderr in the message) or answered something the runner cannot read. */
export const SlurmCommandError = codedError(RunnerError, RunnerErrorCode.SlurmCommand, "SlurmCommandError");
/**
 * NATS or Slurm did not answer for a passing reason while the job was being prepared or submitted: the claim and the
 * message are handed back, and a later delivery runs the job (see `runClaimedJob`).
 */
export const TransientFailureError = codedError(RunnerError, RunnerErrorCode.TransientFailure, "TransientFailureError");

/**
 * The TransientFailureError that hands a job back when NATS did not answer while its inputs were fetched (`err`, a
 * timeout or no responders that outlasted `getFile`'s retries), its cause kept.
 */
export function natsUnavailable(err: unknown): InstanceType<typeof TransientFailureError> {
  return new TransientFailureError(`could not reach the job's inputs: NATS did not answer (${(err as Error).message})`, {
    cause: err,
  });
}

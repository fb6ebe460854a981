/**
 * The tech lead's error table (fastify's `codes`, bolt's `ErrorCode`): one code per failure it raises or
 * answers with itself, each with what it means. Errors from the bus (`InvalidMessageError`,
 * `PayloadTooLargeError`, …) and the brain keep their own classes and codes.
 */
export const TECH_LEAD_ERRORS = {
  /** A task's key kept holding a record that changed while the task was being created. */
  task_contended: "a task's record kept changing while it was being created",
  /** A channel's lessons record kept changing while it was being written. */
  lessons_contended: "a channel's lessons kept changing while being written",
  /** `/mllead status` could not read the task list (an `ok: false` reply). */
  status_failed: "the task list could not be read",
  /** `/mllead lessons` could not read or change a channel's lessons (an `ok: false` reply). */
  lessons_failed: "the lessons could not be read",
  /** `/mllead lessons forget` named a lesson the channel does not have (an `ok: false` reply). */
  no_such_lesson: "the channel has no such lesson",
  /** `/mllead dead` or `pnpm dead` from someone who may not (not an approver, or no approvers configured). */
  dead_letters_not_allowed: "only approvers may see or act on dead letters",
  /** `dead show|replay|drop` named a sequence MLLEAD_DEAD does not hold. */
  no_such_dead_letter: "MLLEAD_DEAD has no such entry",
  /** `dead replay` of an entry that cannot go back (cut when set aside, not JSON, or a subject its consumer does not read). */
  dead_letter_not_replayable: "the entry cannot be replayed",
  /** MLLEAD_DEAD could not be read or changed (a refusal or timeout of the JetStream API). */
  dead_letters_failed: "MLLEAD_DEAD could not be read or changed",
} as const;

/** A code from the tech lead's error table. */
export type TechLeadErrorCode = keyof typeof TECH_LEAD_ERRORS;

/** An error the tech lead raises itself: a stable `code` from TECH_LEAD_ERRORS, the `cause` kept. */
export class TechLeadError extends Error {
  override readonly name = "TechLeadError";
  constructor(
    readonly code: TechLeadErrorCode,
    message: string = TECH_LEAD_ERRORS[code],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An `ok: false` query reply for `code`, saying why in a sentence (with the cause's message when there is one). */
export function failedReply(code: TechLeadErrorCode, message: string = TECH_LEAD_ERRORS[code]) {
  return { v: 1 as const, ok: false as const, error: { code, message } };
}

/** The message of an unknown thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

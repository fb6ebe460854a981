/**
 * Every error `@mllead/contracts` throws, one code each (fastify's `lib/errors.js` table, bolt's `ErrorCode`).
 * A code is stable: logs and replies carry it.
 */
export const ContractErrorCode = {
  /** A task was asked to move where its lifecycle (`TASK_TRANSITIONS`) does not go. */
  InvalidTransition: "invalid_transition",
} as const;
export type ContractErrorCode = (typeof ContractErrorCode)[keyof typeof ContractErrorCode];

/** A task was asked to move where its lifecycle does not go (a bug in the caller: never retried). */
export class InvalidTransitionError extends Error {
  readonly code = ContractErrorCode.InvalidTransition;
  override readonly name = "InvalidTransitionError";
  constructor(
    readonly from: string,
    readonly to: string,
    options?: ErrorOptions,
  ) {
    super(`a task cannot go from '${from}' to '${to}'`, options);
  }
}

/** A message that can never be handled (bad JSON, wrong schema, impossible request). It is terminated, not retried. */
export class PoisonMessageError extends Error {
  readonly code: string = "poison_message";
  override readonly name: string = "PoisonMessageError";
}

/** The message failed to validate against its contract. */
export class InvalidMessageError extends PoisonMessageError {
  override readonly code = "invalid_message";
  override readonly name = "InvalidMessageError";
  constructor(
    readonly subject: string,
    readonly issues: string,
    options?: ErrorOptions,
  ) {
    super(`invalid message on '${subject}': ${issues}`, options);
  }
}

/** Compare-and-swap lost to a concurrent writer more times than allowed. */
export class ConflictError extends Error {
  readonly code = "conflict";
  override readonly name = "ConflictError";
}

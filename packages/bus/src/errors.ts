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

/**
 * A message or record is larger than the server accepts (its `max_payload`), so writing it can
 * never succeed: it is refused before it reaches NATS, and a handler that meets it sets its message aside.
 */
export class PayloadTooLargeError extends PoisonMessageError {
  override readonly code = "payload_too_large";
  override readonly name = "PayloadTooLargeError";
  constructor(
    readonly what: string,
    readonly bytes: number,
    readonly limit: number,
    options?: ErrorOptions,
  ) {
    super(`${what} is ${bytes} bytes; the NATS server accepts at most ${limit}`, options);
  }
}

/** A stored KV value that is not JSON or does not match its schema. `raw` is the value as stored. */
export class InvalidRecordError extends Error {
  readonly code = "invalid_record";
  override readonly name = "InvalidRecordError";
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly revision: number,
    readonly issues: string,
    readonly raw: string,
    options?: ErrorOptions,
  ) {
    super(`the record '${key}' (revision ${revision}) in '${bucket}' does not parse: ${issues}`, options);
  }
}

/** A value written to KV does not match the bucket's schema: a bug in the writer, so retrying cannot help. */
export class InvalidValueError extends PoisonMessageError {
  override readonly code = "invalid_value";
  override readonly name = "InvalidValueError";
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly issues: string,
  ) {
    super(`the record '${key}' for '${bucket}' does not match its schema: ${issues}`);
  }
}

/** The NATS credentials given to a service cannot be used (a missing or malformed file). */
export class CredentialsError extends Error {
  readonly code = "nats_credentials";
  override readonly name = "CredentialsError";
}

/**
 * Setting up what a service needs on NATS failed for a reason waiting cannot fix: the server refused an
 * operation (the service's NATS user lacks a permission) or answered with an error other than "not found".
 */
export class ProvisionError extends Error {
  readonly code = "nats_provision";
  override readonly name = "ProvisionError";
  constructor(
    readonly what: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${what}: ${message}`, options);
  }
}

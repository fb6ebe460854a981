/**
 * Every error `@mllead/bus` throws, one code each (fastify's `lib/errors.js` table, bolt's `ErrorCode`). A code is
 * stable: dead letters, logs and replies carry it, so it never changes meaning.
 */
export const BusErrorCode = {
  /** A message that can never be handled: terminated (or set aside), never retried. */
  PoisonMessage: "poison_message",
  /** A message or request that does not match its schema (or is not JSON). */
  InvalidMessage: "invalid_message",
  /** A message or record larger than the server's `max_payload`. */
  PayloadTooLarge: "payload_too_large",
  /** A KV value about to be written does not match the bucket's schema. */
  InvalidValue: "invalid_value",
  /** A stored KV value that is not JSON or does not match its schema. */
  InvalidRecord: "invalid_record",
  /** A compare-and-swap lost to a concurrent writer (the key is no longer at the expected revision). */
  Conflict: "conflict",
  /** NATS credentials that cannot be used. */
  Credentials: "nats_credentials",
  /** Setting up streams, consumers, buckets or stores failed in a way waiting cannot fix. */
  Provision: "nats_provision",
  /** An Object Store object that cannot be read back whole: a chunk missing, the digest not matching, a link. */
  ObjectRead: "object_read",
} as const;
export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

/** The base of the bus's errors: a stable `code` from `BusErrorCode`, `name` set, `cause` kept. */
export class BusError extends Error {
  override readonly name: string = "BusError";
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A message that can never be handled (bad JSON, wrong schema, impossible request). It is terminated, not retried.
 * Services throw it from a handler for their own never-handleable cases.
 */
export class PoisonMessageError extends BusError {
  override readonly name: string = "PoisonMessageError";
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(options?.code ?? BusErrorCode.PoisonMessage, message, options);
  }
}

/** The message failed to validate against its contract. */
export class InvalidMessageError extends PoisonMessageError {
  override readonly name = "InvalidMessageError";
  constructor(
    readonly subject: string,
    readonly issues: string,
    options?: ErrorOptions,
  ) {
    super(`invalid message on '${subject}': ${issues}`, { ...options, code: BusErrorCode.InvalidMessage });
  }
}

/**
 * A message or record is larger than the server accepts (its `max_payload`), so writing it can
 * never succeed: it is refused before it reaches NATS, and a handler that meets it sets its message aside.
 */
export class PayloadTooLargeError extends PoisonMessageError {
  override readonly name = "PayloadTooLargeError";
  constructor(
    readonly what: string,
    readonly bytes: number,
    readonly limit: number,
    options?: ErrorOptions,
  ) {
    super(`${what} is ${bytes} bytes; the NATS server accepts at most ${limit}`, {
      ...options,
      code: BusErrorCode.PayloadTooLarge,
    });
  }
}

/** A value written to KV does not match the bucket's schema: a bug in the writer, so retrying cannot help. */
export class InvalidValueError extends PoisonMessageError {
  override readonly name = "InvalidValueError";
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly issues: string,
  ) {
    super(`the record '${key}' for '${bucket}' does not match its schema: ${issues}`, { code: BusErrorCode.InvalidValue });
  }
}

/** A stored KV value that is not JSON or does not match its schema. `raw` is the value as stored. */
export class InvalidRecordError extends BusError {
  override readonly name = "InvalidRecordError";
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly revision: number,
    readonly issues: string,
    readonly raw: string,
    options?: ErrorOptions,
  ) {
    super(
      BusErrorCode.InvalidRecord,
      `the record '${key}' (revision ${revision}) in '${bucket}' does not parse: ${issues}`,
      options,
    );
  }
}

/** A compare-and-swap lost to a concurrent writer (once, or more often than `mutate` retries). */
export class ConflictError extends BusError {
  override readonly name = "ConflictError";
  constructor(message: string, options?: ErrorOptions) {
    super(BusErrorCode.Conflict, message, options);
  }
}

/** The NATS credentials given to a service cannot be used (a missing or malformed file). */
export class CredentialsError extends BusError {
  override readonly name = "CredentialsError";
  constructor(message: string, options?: ErrorOptions) {
    super(BusErrorCode.Credentials, message, options);
  }
}

/**
 * Setting up what a service needs on NATS failed for a reason waiting cannot fix: the server refused an
 * operation (the service's NATS user lacks a permission) or answered with an error other than "not found".
 */
export class ProvisionError extends BusError {
  override readonly name = "ProvisionError";
  constructor(
    readonly what: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(BusErrorCode.Provision, `${what}: ${message}`, options);
  }
}

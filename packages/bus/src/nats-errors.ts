import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { PermissionViolationError } from "@nats-io/transport-node";

/**
 * JetStream API error codes the bus branches on: the client's `JetStreamApiCodes`, plus the server's
 * "stream name already in use" (nats-server `JSStreamNameExistErr`), which the client does not name.
 */
export const ApiCodes = {
  ...JetStreamApiCodes,
  StreamNameInUse: 10058,
} as const;

/** The JetStream API error code behind `err` (nats.js throws a JetStreamApiError), or null for any other error. */
export function apiErrorCode(err: unknown): number | null {
  return err instanceof JetStreamApiError ? err.code : null;
}

/** True when the server refused a write because the subject (a KV key) is no longer at the expected sequence. */
export function isWrongLastSequence(err: unknown): boolean {
  const code = apiErrorCode(err);
  return code === ApiCodes.StreamWrongLastSequence || code === ApiCodes.StreamWrongLastSequenceUnknown;
}

/**
 * The server's refusal behind an error, if that is what it is: a PermissionViolationError itself or as the
 * cause of a failed request (nats.js wraps it in a RequestError).
 */
export function permissionViolation(err: unknown): PermissionViolationError | null {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof PermissionViolationError) return e;
  }
  return null;
}

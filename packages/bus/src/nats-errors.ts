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

/**
 * True when `err` (or its cause) is NATS saying "not now": a request timed out or found no responders, as while
 * a cluster elects a stream's leader. Asking again a moment later may work; reads are safe to ask again.
 */
export function isTransientNatsError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === "TimeoutError" || e.name === "NoResponders" || e.name === "NoRespondersError") return true;
  }
  return false;
}

/**
 * Runs `attempt` again while it fails with a transient NATS error (a timeout, no responders: a cluster electing a
 * leader), `tries` times in all, waiting 0.5 s, 1 s, 2 s … (at most 4 s) between; any other error, or the last one,
 * is thrown. Only for calls that are safe to repeat (a read, a compare-and-set, a deduplicated publish).
 */
export async function whileTransient<T>(attempt: () => Promise<T>, tries = 4): Promise<T> {
  for (let tryNo = 1; ; tryNo++) {
    try {
      return await attempt();
    } catch (err) {
      if (tryNo >= tries || !isTransientNatsError(err)) throw err;
      await new Promise((r) => setTimeout(r, Math.min(4000, 500 * 2 ** (tryNo - 1))));
    }
  }
}

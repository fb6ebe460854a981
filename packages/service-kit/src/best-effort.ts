/** The one method `bestEffort` logs with: a pino `Logger` fits, and so does any `{ debug }` a test hands in. */
export interface DebugLog {
  debug(obj: object, msg: string): void;
}

/**
 * Runs a best-effort step — cleanup whose failure must not stop the caller (removing a temporary
 * directory, killing a process that may be gone, closing a connection on the way out). It awaits
 * `fn`, logs a failure at debug level under the name `op` (`{ err, op }`, message `best effort: <op> failed`)
 * and never throws. Resolves `true` when `fn` succeeded, `false` when it failed.
 *
 * This is the only place that swallows an error: anything that is not cleanup handles, logs or
 * re-throws its errors, and a read that may find nothing branches on not-found alone.
 */
export async function bestEffort(op: string, log: DebugLog, fn: () => unknown): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    log.debug({ err, op }, `best effort: ${op} failed`);
    return false;
  }
}

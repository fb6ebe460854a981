/** The errno code of a failed fs or process call (`ENOENT`, `ESRCH`, …), if it has one. */
export const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** Whether `err` is a failed fs or process call with one of these errno codes. */
export function hasCode(err: unknown, codes: readonly string[]): boolean {
  const code = codeOf(err);
  return code !== undefined && codes.includes(code);
}

/**
 * A `.catch` handler for a call whose expected failure is an answer (a file that is not there, a
 * controller the kernel will not hand out): resolves `value` when the error's code is one of
 * `codes`, re-throws anything else. `readFile(p).catch(onCode(["ENOENT"], null))`.
 */
export function onCode<T>(codes: readonly string[], value: T): (err: unknown) => T {
  return (err) => {
    if (hasCode(err, codes)) return value;
    throw err;
  };
}

/** A file or directory that is not there (or a path through a non-directory). */
export const MISSING = ["ENOENT", "ENOTDIR"] as const;

/**
 * Sends `sig` to `pid` (a negative pid is a process group). Returns false when there is no such
 * process any more (ESRCH: it exited already); any other failure is thrown.
 */
export function signalIfAlive(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    if (codeOf(err) === "ESRCH") return false;
    throw err;
  }
}

import { accessSync, constants, statSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { hasCode } from "./errno.js";

/**
 * Where execvp would find `cmd` (with `PATH`, relative to `cwd`), or why it would
 * fail: `ENOENT` (nowhere) or `EACCES` (found, not executable). A launcher in front
 * of the command (prlimit, the cgroup join) would otherwise turn a missing program
 * into its own error output instead of a spawn error.
 */
export function findExecutable(
  cmd: string,
  cwd: string,
  path: string | undefined,
): { file: string } | { code: "ENOENT" | "EACCES" } {
  const candidates = cmd.includes("/")
    ? [resolve(cwd, cmd)]
    : (path ?? "").split(delimiter).map((d) => resolve(cwd, d || ".", cmd));
  let denied = false;
  for (const file of candidates) {
    if (!isFile(file)) continue;
    try {
      accessSync(file, constants.X_OK);
      return { file };
    } catch (err) {
      if (!hasCode(err, ["EACCES"])) throw err;
      denied = true;
    }
  }
  return { code: denied ? "EACCES" : "ENOENT" };
}

/** Errors by which execvp skips a PATH entry: nothing there, a non-directory on the way, a directory we may not search. */
const SKIPPED = ["ENOENT", "ENOTDIR", "EACCES", "ELOOP", "ENAMETOOLONG"];

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch (err) {
    if (hasCode(err, SKIPPED)) return false;
    throw err;
  }
}

import type { Stats } from "node:fs";
import { lstat, stat } from "node:fs/promises";
import { hasCode, MISSING, onCode } from "@mllead/sandbox";

/**
 * True for the errors that mean "nothing is there": the path does not exist (`ENOENT`), or a component
 * of it is not a directory (`ENOTDIR`, e.g. a file where a folder was). Every other error (a permission,
 * a loop, an I/O failure) is a real failure and is thrown on by the helpers below.
 */
export function isAbsent(err: unknown): boolean {
  return hasCode(err, MISSING);
}

/** `lstat(path)` (a link is not followed), or null when nothing is there (see `isAbsent`). */
export function lstatIfExists(path: string): Promise<Stats | null> {
  return lstat(path).catch(onCode(MISSING, null));
}

/** `stat(path)` (links followed), or null when nothing is there (see `isAbsent`). */
export function statIfExists(path: string): Promise<Stats | null> {
  return stat(path).catch(onCode(MISSING, null));
}

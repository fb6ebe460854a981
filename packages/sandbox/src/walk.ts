import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { hasCode, MISSING } from "./errno.js";

/** What `listFiles` leaves out and where it stops. */
export interface ListFilesOptions {
  /** Directory names not entered (e.g. `.git`, `node_modules`). */
  skipDirs?: ReadonlySet<string>;
  /** Leave out files and directories whose name starts with a dot. */
  skipHidden?: boolean;
}

/**
 * Every regular file under `dir`, as paths relative to it with `/` separators, sorted. Symbolic links
 * and special files are neither listed nor followed. A `dir` that is missing lists nothing; a directory
 * that vanishes or may not be read during the walk is left out; any other failure is thrown.
 */
export async function listFiles(dir: string, opts: ListFilesOptions = {}): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string): Promise<void> => {
    for (const e of await entries(d)) {
      if (opts.skipHidden && e.name.startsWith(".")) continue;
      const full = join(d, e.name);
      if (e.isDirectory() && !opts.skipDirs?.has(e.name)) await visit(full);
      else if (e.isFile()) out.push(relative(dir, full).split(sep).join("/"));
    }
  };
  await visit(dir);
  return out.sort();
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (hasCode(err, [...MISSING, "EACCES"])) return [];
    throw err;
  }
}

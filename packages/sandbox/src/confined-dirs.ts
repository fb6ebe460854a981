import { randomBytes } from "node:crypto";
import { constants, existsSync, type Stats } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readlink, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { type Access, type Base, followLink, type Loc, type Lookup, READ, showPath } from "./confined-paths.js";
import { codeOf } from "./errno.js";
import { ConfinedFsError } from "./errors.js";

/** Ends the name of a file `ConfinedFs` writes before renaming it into place. */
export const TEMP_SUFFIX = ".mllead-tmp";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/** An opened directory, and its real path (used only where there is no /proc). */
export interface Dir {
  handle: FileHandle;
  path: string;
}

/**
 * The walk under `ConfinedFs`: directories opened one component at a time with O_NOFOLLOW, each relative
 * to the one opened before it through `/proc/self/fd/<fd>/<name>` (by full path where there is no /proc).
 */
export class DirWalker {
  private readonly proc = existsSync("/proc/self/fd");

  /** Opens the last component of `loc` in `dir` (closing `dir`), or says which location a link there leads to. */
  async openLast(dir: Dir, loc: Loc, look: Lookup): Promise<{ handle: FileHandle; info: Stats } | { next: Loc }> {
    const target = this.at(dir, loc.parts.at(-1) as string);
    try {
      // O_NONBLOCK: a FIFO a step made must not hang the service; it is refused below.
      const handle = await open(target, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      try {
        return { handle, info: await handle.stat() };
      } catch (err) {
        await handle.close();
        throw err;
      }
    } catch (err) {
      if (codeOf(err) === "ELOOP") return { next: followLink(loc, loc.parts.length - 1, await readlink(target), READ, look) };
      if (codeOf(err) === "ENOENT") throw new ConfinedFsError(`${showPath(loc)} does not exist`, "not_found", { cause: err });
      throw err;
    } finally {
      await dir.handle.close();
    }
  }

  /** Opens `loc` up to all but its last `keep` components as directories, following links that stay inside. */
  async walk(loc: Loc, keep: 0 | 1, access: Access, look: Lookup): Promise<{ dir: Dir; loc: Loc }> {
    for (;;) {
      let dir = await this.openBase(loc.base);
      let next: Loc | undefined;
      try {
        for (let i = 0; i < loc.parts.length - keep; i++) {
          const step = await this.enter(dir, loc, i, access);
          if (typeof step === "string") {
            next = followLink(loc, i, step, access, look);
            break;
          }
          await dir.handle.close();
          dir = step;
        }
      } catch (err) {
        await dir.handle.close();
        throw err;
      }
      if (!next) return { dir, loc };
      await dir.handle.close();
      loc = next;
    }
  }

  /** Opens component `i` of `loc` inside `dir` as a directory (creating it for writes), or returns the link found there. */
  private async enter(dir: Dir, loc: Loc, i: number, access: Access): Promise<Dir | string> {
    const name = loc.parts[i] as string;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.openDir(dir, name);
      } catch (err) {
        const code = codeOf(err);
        if (code === "ENOENT" && access.create && attempt === 0) {
          // mkdir never follows a link: an existing one makes it fail with EEXIST, and the open above says ELOOP.
          await mkdir(this.at(dir, name)).catch((e: unknown) => {
            if (codeOf(e) !== "EEXIST") throw e;
          });
          continue;
        }
        const shown = showPath({ base: loc.base, parts: loc.parts.slice(0, i + 1) });
        if (code === "ELOOP" || code === "ENOTDIR") {
          const info = await lstat(this.at(dir, name));
          if (info.isSymbolicLink()) return readlink(this.at(dir, name));
          throw new ConfinedFsError(`${shown} is not a directory`, "not_a_directory", { cause: err });
        }
        if (code === "ENOENT") throw new ConfinedFsError(`${shown} does not exist`, "not_found", { cause: err });
        throw err;
      }
    }
  }

  /** Writes a temporary file in `dir` with `fill`, then renames it over `name` (never through what `name` is now). */
  async replaceIn(
    dir: Dir,
    name: string,
    mode: number | undefined,
    fill: (handle: FileHandle) => Promise<void>,
    cleanupFailed: (err: unknown, what: string) => void,
  ): Promise<void> {
    const tmp = `.${name.length > 200 ? "" : name}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`;
    const handle = await open(this.at(dir, tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666);
    let renamed = false;
    try {
      try {
        // Before `fill`, which may hand the handle to a stream that closes it.
        if (mode !== undefined) await handle.chmod(mode);
        await fill(handle);
      } finally {
        await handle.close();
      }
      await rename(this.at(dir, tmp), this.at(dir, name));
      renamed = true;
    } finally {
      if (!renamed) {
        await unlink(this.at(dir, tmp)).catch((err: unknown) => {
          if (codeOf(err) !== "ENOENT") cleanupFailed(err, `removing the temporary file ${tmp}`);
        });
      }
    }
  }

  /** Opens `name` in `dir` as a directory, never through a link. */
  async openDir(dir: Dir, name: string): Promise<Dir> {
    const handle = await open(this.at(dir, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    return { handle, path: join(dir.path, name) };
  }

  /** Opens a base directory by its real path. */
  async openBase(base: Base): Promise<Dir> {
    return { handle: await open(base.real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW), path: base.real };
  }

  /** The path of `name` inside the opened `dir`, for a syscall that then never follows a link in `dir`'s own path. */
  at(dir: Dir, name: string): string {
    return this.proc ? `/proc/self/fd/${dir.handle.fd}/${name}` : join(dir.path, name);
  }

  /** The opened `dir` as a path (for readdir). */
  fdPath(dir: Dir): string {
    return this.proc ? `/proc/self/fd/${dir.handle.fd}` : dir.path;
  }
}

/** Reads at most `limit` bytes of `handle`, from byte `start` (default the beginning). */
export async function readUpTo(handle: FileHandle, limit: number, start = 0): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < limit) {
    const buf = Buffer.allocUnsafe(Math.min(64 * 1024, limit - total));
    const { bytesRead } = await handle.read(buf, 0, buf.length, start + total);
    if (bytesRead === 0) break;
    chunks.push(buf.subarray(0, bytesRead));
    total += bytesRead;
  }
  return Buffer.concat(chunks, total);
}

import { randomBytes } from "node:crypto";
import { constants, existsSync, type Stats } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readdir, readlink, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  type Access,
  type Base,
  ConfinedFsError,
  codeOf,
  followLink,
  type Loc,
  type Lookup,
  locate,
  READ,
  resolveBases,
  showPath,
  WRITE,
} from "./confined-paths.js";

/** Ends the name of a file `ConfinedFs` writes before renaming it into place. */
const TEMP_SUFFIX = ".mllead-tmp";

/**
 * True for a file name `ConfinedFs` uses while it writes (`.<name>.<12 hex>.mllead-tmp`): one left behind by a
 * process that died between the write and the rename is debris, never the step's work, so commits skip it.
 */
export function isConfinedTempName(name: string): boolean {
  return name.endsWith(TEMP_SUFFIX) && /^\..*\.[0-9a-f]{12}\.mllead-tmp$/.test(name);
}

export { ConfinedFsError, type ConfinedFsErrorCode } from "./confined-paths.js";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;

/** Options of a `ConfinedFs`. */
export interface ConfinedFsOptions {
  /** Directories that may be read by absolute path (the team's data dirs), never written. Missing ones are ignored. */
  readOnlyDirs?: readonly string[];
  /** Told about a clean-up that failed (a temporary file left behind); default: a process warning. */
  onCleanupError?: (err: unknown, what: string) => void;
}

/** A listing of files; `truncated` when a limit stopped the walk before it saw everything. */
export interface ConfinedListing {
  files: string[];
  truncated: boolean;
  /** Files and directories `skip` left out (a directory counts once); absent when none. */
  skipped?: number;
}

/** A regular file opened for reading; the caller closes `handle`. */
export interface OpenedFile {
  handle: FileHandle;
  size: number;
  /** The path as the tools show it: relative to the root, or absolute in a read-only dir. */
  path: string;
}

/** An opened directory, and its real path (used only where there is no /proc). */
interface Dir {
  handle: FileHandle;
  path: string;
}

/**
 * File access confined to one root directory (plus read-only dirs) that never follows a symbolic link out of
 * them: not an existing or a dangling one, in any component of a path, nor one swapped in while a call runs.
 * Each component is opened with O_NOFOLLOW relative to the directory opened before it, through
 * `/proc/self/fd/<fd>/<name>` (Node has no openat), so the kernel itself never follows a link and a directory
 * renamed or replaced meanwhile cannot redirect the walk. A link met on the way is read and resolved here:
 * followed when its target lies inside the root (or, for reads, a read-only dir), refused otherwise. Files
 * are replaced through a temporary file and a rename in the same opened directory, so a write never goes
 * through a link or a hard link. Without /proc (not Linux) each component is still opened with O_NOFOLLOW
 * by its full path, which a concurrent swap of an ancestor can race: confinement there is best-effort.
 */
export class ConfinedFs {
  private bases?: Promise<Base[]>;
  private readonly proc = existsSync("/proc/self/fd");

  /** `root` must exist; it is the only place written. */
  constructor(
    readonly root: string,
    private readonly opts: ConfinedFsOptions = {},
  ) {}

  /** The bytes of a regular file of at most `maxBytes`. */
  async readFile(path: string, maxBytes: number): Promise<Buffer> {
    const file = await this.openFile(path);
    try {
      if (file.size > maxBytes) throw tooLarge(file.path, file.size, maxBytes);
      const out = await readUpTo(file.handle, maxBytes + 1);
      // It grew since the stat: still bounded.
      if (out.length > maxBytes) throw tooLarge(file.path, out.length, maxBytes);
      return out;
    } finally {
      await file.handle.close();
    }
  }

  /**
   * Up to `maxBytes` bytes of a regular file from byte `start` (default 0), and the file's size: how a tool
   * reads the head or a page of a file of any size without holding it whole.
   */
  async readRange(path: string, opts: { start?: number; maxBytes: number }): Promise<{ data: Buffer; size: number }> {
    const file = await this.openFile(path);
    try {
      return { data: await readUpTo(file.handle, opts.maxBytes, opts.start ?? 0), size: file.size };
    } finally {
      await file.handle.close();
    }
  }

  /** Opens a regular file for reading (uploads stream from the handle). */
  async openFile(path: string): Promise<OpenedFile> {
    const look = await this.lookup();
    let loc = locate(path, READ, look);
    for (;;) {
      if (loc.parts.length === 0) throw new ConfinedFsError(`${path} is a directory, not a file`, "is_a_directory");
      const { dir, loc: found } = await this.walk(loc, 1, READ, look);
      loc = found;
      const opened = await this.openLast(dir, loc, look);
      if ("next" in opened) {
        loc = opened.next;
        continue;
      }
      const { handle, info } = opened;
      if (info.isDirectory() || !info.isFile()) {
        await handle.close();
        throw info.isDirectory()
          ? new ConfinedFsError(`${showPath(loc)} is a directory, not a file`, "is_a_directory")
          : new ConfinedFsError(`${showPath(loc)} is not a regular file`, "not_a_file");
      }
      return { handle, size: info.size, path: showPath(loc) };
    }
  }

  /** Creates or replaces a file under the root (making its directories), atomically. */
  async writeFile(path: string, data: string | Uint8Array): Promise<void> {
    await this.replaceFile(path, (handle) => handle.writeFile(data));
  }

  /**
   * Creates or replaces a file under the root with what `fill` writes to the handle it gets (a temporary
   * file, renamed over the target once `fill` resolves; nothing changes when it throws). The replaced
   * file's permissions are kept. `fill` may let a stream close the handle (`handle.createWriteStream()`).
   */
  async replaceFile(path: string, fill: (handle: FileHandle) => Promise<void>): Promise<void> {
    const look = await this.lookup();
    let loc = locate(path, WRITE, look);
    for (;;) {
      if (loc.parts.length === 0) throw new ConfinedFsError("cannot write the working directory itself", "is_a_directory");
      const { dir, loc: found } = await this.walk(loc, 1, WRITE, look);
      loc = found;
      const name = loc.parts.at(-1) as string;
      let next: Loc | undefined;
      try {
        const info = await lstat(this.at(dir, name)).catch((err: unknown) => {
          if (codeOf(err) === "ENOENT") return undefined;
          throw err;
        });
        if (info?.isSymbolicLink()) {
          next = followLink(loc, loc.parts.length - 1, await readlink(this.at(dir, name)), WRITE, look);
        } else {
          if (info?.isDirectory()) throw new ConfinedFsError(`${showPath(loc)} is a directory`, "is_a_directory");
          if (info && !info.isFile()) throw new ConfinedFsError(`${showPath(loc)} is not a regular file`, "not_a_file");
          await this.replaceIn(dir, name, info ? info.mode & 0o777 : undefined, fill);
          return;
        }
      } finally {
        await dir.handle.close();
      }
      loc = next;
    }
  }

  /**
   * The regular files at `path` (a directory, walked depth-first in name order, or one file), shown as the
   * tools show paths. Links and special files are not listed nor entered (as ripgrep without -L); nor are
   * directories named in `skipDirs`, nor files and directories for which `skip` (given the path as shown,
   * a directory's with a trailing `/`) says true — those are counted in `skipped`. Stops at `maxFiles` files
   * or `maxDepth` levels and says so.
   */
  async list(
    path: string,
    opts: { maxFiles: number; skipDirs?: ReadonlySet<string>; maxDepth?: number; skip?: (shown: string) => boolean },
  ): Promise<ConfinedListing> {
    const look = await this.lookup();
    let loc = locate(path, READ, look);
    let top: Dir;
    for (;;) {
      if (loc.parts.length === 0) {
        top = await this.openBase(loc.base);
        break;
      }
      const { dir, loc: found } = await this.walk(loc, 1, READ, look);
      loc = found;
      const opened = await this.openLast(dir, loc, look);
      if ("next" in opened) {
        loc = opened.next;
        continue;
      }
      if (opened.info.isDirectory()) {
        top = { handle: opened.handle, path: join(dir.path, loc.parts.at(-1) as string) };
        break;
      }
      await opened.handle.close();
      if (!opened.info.isFile()) throw new ConfinedFsError(`${showPath(loc)} is not a regular file`, "not_a_file");
      if (opts.skip?.(showPath(loc))) return { files: [], truncated: false, skipped: 1 };
      return { files: [showPath(loc)], truncated: false };
    }
    const files: string[] = [];
    let truncated = false;
    let skipped = 0;
    const maxDepth = opts.maxDepth ?? 64;
    const visit = async (dir: Dir, parts: string[]): Promise<void> => {
      const entries = (await readdir(this.fdPath(dir), { withFileTypes: true })).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const e of entries) {
        if (files.length >= opts.maxFiles) {
          truncated = true;
          return;
        }
        const shown = showPath({ base: loc.base, parts: [...parts, e.name] });
        if ((e.isFile() || e.isDirectory()) && opts.skip?.(e.isDirectory() ? `${shown}/` : shown)) {
          skipped += 1;
          continue;
        }
        if (e.isFile()) files.push(shown);
        if (!e.isDirectory() || opts.skipDirs?.has(e.name)) continue;
        if (parts.length - loc.parts.length >= maxDepth) {
          truncated = true;
          continue;
        }
        // Swapped for a link or removed since readdir: not entered.
        const child = await this.openDir(dir, e.name).catch((err: unknown) => {
          if (["ELOOP", "ENOTDIR", "ENOENT"].includes(codeOf(err) ?? "")) return undefined;
          throw err;
        });
        if (!child) continue;
        try {
          await visit(child, [...parts, e.name]);
        } finally {
          await child.handle.close();
        }
      }
    };
    try {
      await visit(top, loc.parts);
    } finally {
      await top.handle.close();
    }
    return { files, truncated, ...(skipped > 0 ? { skipped } : {}) };
  }

  /** Opens the last component of `loc` in `dir` (closing `dir`), or says which location a link there leads to. */
  private async openLast(dir: Dir, loc: Loc, look: Lookup): Promise<{ handle: FileHandle; info: Stats } | { next: Loc }> {
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
  private async walk(loc: Loc, keep: 0 | 1, access: Access, look: Lookup): Promise<{ dir: Dir; loc: Loc }> {
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
  private async replaceIn(
    dir: Dir,
    name: string,
    mode: number | undefined,
    fill: (handle: FileHandle) => Promise<void>,
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
          if (codeOf(err) !== "ENOENT") this.cleanupFailed(err, `removing the temporary file ${tmp}`);
        });
      }
    }
  }

  private cleanupFailed(err: unknown, what: string): void {
    if (this.opts.onCleanupError) this.opts.onCleanupError(err, what);
    else process.emitWarning(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  private async openDir(dir: Dir, name: string): Promise<Dir> {
    const handle = await open(this.at(dir, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    return { handle, path: join(dir.path, name) };
  }

  private async openBase(base: Base): Promise<Dir> {
    return { handle: await open(base.real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW), path: base.real };
  }

  /** The path of `name` inside the opened `dir`, for a syscall that then never follows a link in `dir`'s own path. */
  private at(dir: Dir, name: string): string {
    return this.proc ? `/proc/self/fd/${dir.handle.fd}/${name}` : join(dir.path, name);
  }

  private fdPath(dir: Dir): string {
    return this.proc ? `/proc/self/fd/${dir.handle.fd}` : dir.path;
  }

  /** A fresh lookup; the bases are resolved (real paths) once, on first use. */
  private async lookup(): Promise<Lookup> {
    this.bases ??= resolveBases(this.root, this.opts.readOnlyDirs ?? []);
    return { bases: await this.bases, hops: 0 };
  }
}

function tooLarge(path: string, size: number, max: number): ConfinedFsError {
  return new ConfinedFsError(`${path} is ${size} bytes; files over ${max} bytes are not read whole`, "too_large");
}

/** Reads at most `limit` bytes of `handle`, from byte `start` (default the beginning). */
async function readUpTo(handle: FileHandle, limit: number, start = 0): Promise<Buffer> {
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

import { type FileHandle, lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { type Dir, DirWalker, readUpTo, TEMP_SUFFIX } from "./confined-dirs.js";
import { type Base, followLink, type Loc, type Lookup, locate, READ, resolveBases, showPath, WRITE } from "./confined-paths.js";
import { codeOf } from "./errno.js";
import { ConfinedFsError } from "./errors.js";

/**
 * True for a file name `ConfinedFs` uses while it writes (`.<name>.<12 hex>.mllead-tmp`): one left behind by a
 * process that died between the write and the rename is debris, never the step's work, so commits skip it.
 */
export function isConfinedTempName(name: string): boolean {
  return name.endsWith(TEMP_SUFFIX) && /^\..*\.[0-9a-f]{12}\.mllead-tmp$/.test(name);
}

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
  private readonly dirs = new DirWalker();

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
      const { dir, loc: found } = await this.dirs.walk(loc, 1, READ, look);
      loc = found;
      const opened = await this.dirs.openLast(dir, loc, look);
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
      const { dir, loc: found } = await this.dirs.walk(loc, 1, WRITE, look);
      loc = found;
      const name = loc.parts.at(-1) as string;
      let next: Loc | undefined;
      try {
        const info = await lstat(this.dirs.at(dir, name)).catch((err: unknown) => {
          if (codeOf(err) === "ENOENT") return undefined;
          throw err;
        });
        if (info?.isSymbolicLink()) {
          next = followLink(loc, loc.parts.length - 1, await readlink(this.dirs.at(dir, name)), WRITE, look);
        } else {
          if (info?.isDirectory()) throw new ConfinedFsError(`${showPath(loc)} is a directory`, "is_a_directory");
          if (info && !info.isFile()) throw new ConfinedFsError(`${showPath(loc)} is not a regular file`, "not_a_file");
          await this.dirs.replaceIn(dir, name, info ? info.mode & 0o777 : undefined, fill, (err, what) =>
            this.cleanupFailed(err, what),
          );
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
        top = await this.dirs.openBase(loc.base);
        break;
      }
      const { dir, loc: found } = await this.dirs.walk(loc, 1, READ, look);
      loc = found;
      const opened = await this.dirs.openLast(dir, loc, look);
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
      const entries = (await readdir(this.dirs.fdPath(dir), { withFileTypes: true })).sort((a, b) =>
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
        const child = await this.dirs.openDir(dir, e.name).catch((err: unknown) => {
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

  private cleanupFailed(err: unknown, what: string): void {
    if (this.opts.onCleanupError) this.opts.onCleanupError(err, what);
    else process.emitWarning(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
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

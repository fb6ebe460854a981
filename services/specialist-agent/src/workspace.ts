import type { FileHandle } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { FileListing } from "@mllead/brain";
import { ConfinedFs, ConfinedFsError, type OpenedFile } from "@mllead/sandbox";
import { PathEscapeError, WorkspaceFileError } from "./errors.js";
import type { TaskWorktree } from "./task-worktree.js";

/** Most files a listing walks before it stops and says so. */
const MAX_LISTED = 10_000;
/** Directories listings do not descend into: tool state, not work. */
const SKIPPED_DIRS: ReadonlySet<string> = new Set([".git", "node_modules", "__pycache__", ".venv"]);
/** Largest file `readFile` returns as text (bytes); bigger files belong in artifacts. */
const MAX_READ_BYTES = 1024 * 1024;

function inside(root: string, abs: string): boolean {
  const rel = relative(root, abs);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * Resolves `path` against `root` and refuses anything that leaves it (`..`,
 * absolute paths elsewhere). Purely lexical: the files themselves are reached through `ConfinedFs`.
 */
export function resolveInside(root: string, path: string): string {
  if (path.includes("\0")) throw new PathEscapeError(path);
  const abs = resolve(root, path);
  if (!inside(root, abs)) throw new PathEscapeError(path);
  return abs;
}

/**
 * The files of a task's worktree, as the step's tools reach them: a view of the `TaskWorktree` (its one
 * owner, which made and opened `<workspaceDir>/<taskId>`), never a second opening of that directory.
 * Every file it reads or writes stays inside the worktree: a symbolic link (existing or dangling, in any
 * component, or swapped in meanwhile) is followed only where it leads to a place inside, never out (see
 * `ConfinedFs`). A view made with `withDataDirs` also reads the team's data dirs by absolute path, and
 * never writes them.
 */
export class Workspace {
  private constructor(
    readonly root: string,
    private readonly files: ConfinedFs,
    /** The data dirs this view may read (absolute paths). */
    readonly dataDirs: readonly string[],
  ) {}

  /** The files of `worktree` (its `root`, a real path: `openTaskWorktree` resolved it). */
  static of(worktree: Pick<TaskWorktree, "root">): Workspace {
    return new Workspace(worktree.root, new ConfinedFs(worktree.root), []);
  }

  /** This workspace, also reading `dataDirs` (absolute paths) — never writing them. */
  withDataDirs(dataDirs: readonly string[]): Workspace {
    return new Workspace(this.root, new ConfinedFs(this.root, { readOnlyDirs: dataDirs }), [...dataDirs]);
  }

  /** A text file (at most 1 MiB): workspace-relative, or absolute inside the workspace or a data dir. */
  async readFile(path: string): Promise<string> {
    this.check(path);
    return (await this.confined(() => this.files.readFile(path, MAX_READ_BYTES))).toString("utf8");
  }

  /** Up to `maxBytes` bytes of a file of any size from byte `start` (default 0), and its size; paths as `readFile`. */
  async readBytes(path: string, range: { start?: number; maxBytes: number }): Promise<{ data: Buffer; size: number }> {
    this.check(path);
    return this.confined(() => this.files.readRange(path, range));
  }

  /** Creates or replaces a file of the workspace whole, creating its directories. */
  async writeFile(path: string, content: string): Promise<void> {
    this.check(path);
    await this.confined(() => this.files.writeFile(path, content));
  }

  /** Every file in the workspace (relative, sorted), skipping tool directories like `.git`; at most 10,000. */
  async listFiles(): Promise<string[]> {
    return (await this.findFiles(".")).files;
  }

  /**
   * The files at `path` (a directory walked, or one file), skipping tool directories; `truncated` past `maxFiles`.
   * Paths (as shown; directories with a trailing `/`) in `ignored` are left out, not entered, and counted.
   */
  async findFiles(path: string, opts: { maxFiles?: number; ignored?: ReadonlySet<string> } = {}): Promise<FileListing> {
    this.check(path);
    const ignored = opts.ignored;
    const listing = await this.confined(() =>
      this.files.list(path, {
        maxFiles: opts.maxFiles ?? MAX_LISTED,
        skipDirs: SKIPPED_DIRS,
        ...(ignored && ignored.size > 0 ? { skip: (shown: string) => ignored.has(shown) } : {}),
      }),
    );
    const out: FileListing = { files: listing.files, truncated: listing.truncated };
    return listing.skipped ? { ...out, ignored: listing.skipped } : out;
  }

  /** Opens a regular file of the workspace to stream it (an artifact upload); the caller closes the handle. */
  async openFile(path: string): Promise<OpenedFile> {
    resolveInside(this.root, path);
    return this.confined(() => this.files.openFile(path));
  }

  /** Replaces a workspace file with what `fill` writes (an artifact download); nothing changes if it throws. */
  async replaceFile(path: string, fill: (handle: FileHandle) => Promise<void>): Promise<void> {
    resolveInside(this.root, path);
    await this.confined(() => this.files.replaceFile(path, fill));
  }

  /** Refuses, with the workspace's own error, a path that leaves it by its letters (not a data dir of this view). */
  private check(path: string): void {
    if (isAbsolute(path) && this.dataDirs.some((d) => inside(resolve(d), resolve(path)))) return;
    resolveInside(this.root, path);
  }

  private async confined<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof ConfinedFsError) throw new WorkspaceFileError(err.message, err.code, { cause: err });
      throw err;
    }
  }
}

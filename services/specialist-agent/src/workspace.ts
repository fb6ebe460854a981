import { mkdir, readdir, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { PathEscapeError, StepToolError } from "./errors.js";

/** Most files `listFiles` returns; a workspace holding more is summarised by its first ones. */
const MAX_LISTED = 2000;
/** Directories `listFiles` does not descend into: tool state, not work. */
const SKIPPED_DIRS = new Set([".git", "node_modules", "__pycache__", ".venv"]);
/** Largest file `readFile` returns as text (bytes); bigger files belong in artifacts. */
const MAX_READ_BYTES = 1024 * 1024;

function inside(root: string, abs: string): boolean {
  const rel = relative(root, abs);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * Resolves `path` against `root` and refuses anything that leaves it (`..`,
 * absolute paths elsewhere). Purely lexical; `Workspace.resolve` also follows symlinks.
 */
export function resolveInside(root: string, path: string): string {
  if (path.includes("\0")) throw new PathEscapeError(path);
  const abs = resolve(root, path);
  if (!inside(root, abs)) throw new PathEscapeError(path);
  return abs;
}

/** A task's working directory, `<workspaceDir>/<taskId>/`. Every path given to it stays inside it. */
export class Workspace {
  private constructor(readonly root: string) {}

  /** Creates (if needed) and opens the workspace of one task. */
  static async open(workspaceDir: string, taskId: string): Promise<Workspace> {
    const base = resolve(workspaceDir);
    const dir = resolveInside(base, taskId);
    await mkdir(dir, { recursive: true });
    // Work with the real path so a symlinked workspace dir does not look like an escape.
    return new Workspace(await realpath(dir));
  }

  /**
   * The absolute path for a workspace-relative `path`. Refuses paths that leave
   * the workspace, including through a symlink a command created inside it.
   */
  async resolve(path: string): Promise<string> {
    const abs = resolveInside(this.root, path);
    // Follow symlinks on the longest existing prefix: the rest cannot be a link yet.
    let existing = abs;
    for (;;) {
      try {
        const real = await realpath(existing);
        if (!inside(this.root, real)) throw new PathEscapeError(path);
        break;
      } catch (err) {
        if (err instanceof PathEscapeError) throw err;
        const parent = dirname(existing);
        if (parent === existing) break;
        existing = parent;
      }
    }
    return abs;
  }

  /** The path as tools report it: relative to the workspace, with `/` separators. */
  relative(abs: string): string {
    return relative(this.root, abs).split(sep).join("/");
  }

  async readFile(path: string): Promise<string> {
    const abs = await this.resolve(path);
    const info = await stat(abs).catch(() => null);
    if (!info?.isFile()) throw new StepToolError(`no file '${path}' in the workspace`);
    if (info.size > MAX_READ_BYTES) {
      throw new StepToolError(`'${path}' is ${info.size} bytes; files over ${MAX_READ_BYTES} bytes are not read as text`);
    }
    return readFile(abs, "utf8");
  }

  /** Writes a file, creating its directories. */
  async writeFile(path: string, content: string): Promise<void> {
    const abs = await this.resolve(path);
    if (abs === this.root) throw new StepToolError("cannot write to the workspace root itself");
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, content, "utf8");
  }

  /** Every file in the workspace (relative, sorted), skipping tool directories like `.git`. */
  async listFiles(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true });
      for (const e of entries) {
        if (out.length >= MAX_LISTED) return;
        const abs = join(dir, e.name);
        if (e.isDirectory()) {
          if (!SKIPPED_DIRS.has(e.name)) await walk(abs);
        } else if (e.isFile()) {
          out.push(this.relative(abs));
        }
      }
    };
    await walk(this.root);
    return out.sort();
  }
}

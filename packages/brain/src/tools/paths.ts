import { isAbsolute, relative, resolve, sep } from "node:path";
import { ToolInputError } from "../errors.js";
import type { StepTools } from "../types.js";

function under(dir: string, path: string): string | undefined {
  const rel = relative(dir, path);
  if (rel === "") return ".";
  if (rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) return undefined;
  return rel.split(sep).join("/");
}

/**
 * A tool's path as the workspace port takes it (relative). Absolute paths must
 * lie under the workspace root (commands see the worktree at that same path).
 */
export function workspacePath(root: string, path: string): string {
  if (!isAbsolute(path)) return path.replace(/^\.\/+/, "") || ".";
  const rel = under(root, path);
  if (rel === undefined) throw new ToolInputError(`${path} is outside the working directory ${root}`);
  return rel;
}

/**
 * A path a reading tool (Read, Glob, Grep) may take: as `workspacePath`, or absolute inside one of the
 * team's data dirs, which stay absolute (the port reads them, never writes them).
 */
export function readablePath(tools: Pick<StepTools, "root" | "sandbox">, path: string): string {
  if (isAbsolute(path) && under(tools.root, path) === undefined) {
    const dataDir = tools.sandbox?.dataDirs.find((d) => under(d, path) !== undefined);
    if (dataDir !== undefined) return resolve(path);
  }
  return workspacePath(tools.root, path);
}

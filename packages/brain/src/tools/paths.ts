import { isAbsolute, relative, sep } from "node:path";
import { ToolInputError } from "./errors.js";

/**
 * A tool's path as the workspace port takes it (relative). Absolute paths must
 * lie under the workspace root (commands see the worktree at that same path).
 */
export function workspacePath(root: string, path: string): string {
  if (!isAbsolute(path)) return path.replace(/^\.\/+/, "") || ".";
  const rel = relative(root, path);
  if (rel === "") return ".";
  if (rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) {
    throw new ToolInputError(`${path} is outside the working directory ${root}`);
  }
  return rel.split(sep).join("/");
}

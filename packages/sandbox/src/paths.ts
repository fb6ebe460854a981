import { isAbsolute, relative, resolve, sep } from "node:path";

/**
 * Whether the absolute `path` is `root` or lies below it, by its components (`/a/b..c` is inside `/a`,
 * `/a/../b` is not). Lexical only: no symbolic link is followed, so callers that open the path must
 * resolve links first (`realpath`) or open it without following them (`ConfinedFs`).
 */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * `path` resolved against `root` (a relative path, or an absolute one), when the result stays inside
 * `root`; `undefined` when it leaves. Lexical only, as `isInside`.
 */
export function resolveInside(root: string, path: string): string | undefined {
  if (path.includes("\0")) return undefined;
  const full = resolve(root, path);
  return isInside(resolve(root), full) ? full : undefined;
}

import { realpath } from "node:fs/promises";
import { isAbsolute, join, normalize, posix, relative, sep } from "node:path";
import { codeOf } from "./errno.js";
import { ConfinedFsError } from "./errors.js";
import { isInside } from "./paths.js";

/** Links followed in one lookup before it is refused (the kernel's own MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;

/** A directory paths are confined to: the root (writable) or a read-only dir. */
export interface Base {
  /** The real path, opened as the walk's starting point. */
  real: string;
  /** The names by which absolute paths and link targets may reach it (as configured, and real). */
  aliases: string[];
  /** How paths in it are shown: "" for the root (relative paths), the configured path otherwise. */
  shown: string;
  writable: boolean;
}

/** A place as components below a base; never `.`, `..` or empty components. */
export interface Loc {
  base: Base;
  parts: string[];
}

/** What an operation does: writes are refused in read-only bases; `create` makes missing directories. */
export interface Access {
  write: boolean;
  create: boolean;
}
export const READ: Access = { write: false, create: false };
export const WRITE: Access = { write: true, create: true };

/** One lookup: every base (for absolute link targets) and the links followed so far. */
export interface Lookup {
  bases: Base[];
  hops: number;
}

/** The bases: the root first (it must exist), then the read-only dirs that exist, by real path. */
export async function resolveBases(root: string, readOnlyDirs: readonly string[]): Promise<Base[]> {
  const rootReal = await realpath(root);
  const bases: Base[] = [{ real: rootReal, aliases: [normalize(root), rootReal], shown: "", writable: true }];
  for (const dir of readOnlyDirs) {
    const real = await realpath(dir).catch((err: unknown) => {
      if (codeOf(err) === "ENOENT") return undefined;
      throw err;
    });
    if (real) bases.push({ real, aliases: [normalize(dir), real], shown: normalize(dir), writable: false });
  }
  return bases;
}

/** A place as the tools show it: relative for the root, absolute in a read-only dir. */
export function showPath(loc: Loc): string {
  if (loc.base.shown === "") return loc.parts.join("/") || ".";
  return join(loc.base.shown, ...loc.parts);
}

/** The base and components of a tool's path: relative to the root, or absolute inside the root or a read-only dir. */
export function locate(path: string, access: Access, look: Lookup): Loc {
  const leaves = () => new ConfinedFsError(`path '${path}' leaves the working directory`, "path_escape");
  if (path.includes("\0")) throw leaves();
  if (isAbsolute(path)) {
    const found = baseOf(normalize(path), look.bases);
    if (!found) throw leaves();
    if (access.write && !found.base.writable) {
      throw new ConfinedFsError(`${path} is in a read-only data directory; it cannot be written`, "read_only");
    }
    return found;
  }
  const rel = posix.normalize(path.split(sep).join("/"));
  if (rel === ".." || rel.startsWith("../")) throw leaves();
  return { base: look.bases[0] as Base, parts: rel.split("/").filter((p) => p !== "" && p !== ".") };
}

/**
 * Where the link `target` found at component `i` of `loc` leads, when that stays inside a base (for a
 * write, the root); refused otherwise. The components before `i` were opened without following any link,
 * so a `..` in a relative target is their real parent.
 */
export function followLink(loc: Loc, i: number, target: string, access: Access, look: Lookup): Loc {
  const shown = showPath({ base: loc.base, parts: loc.parts.slice(0, i + 1) });
  if (++look.hops > MAX_LINK_HOPS) throw new ConfinedFsError(`${shown}: too many levels of symbolic links`, "link_loop");
  const rest = loc.parts.slice(i + 1);
  const outside = () =>
    new ConfinedFsError(`${shown} is a symbolic link to a path outside the working directory; not followed`, "path_escape");
  if (isAbsolute(target)) {
    const found = baseOf(normalize(target), look.bases);
    if (!found) throw outside();
    if (access.write && !found.base.writable) {
      throw new ConfinedFsError(`${shown} is a symbolic link into a read-only data directory; not written`, "read_only");
    }
    return { base: found.base, parts: [...found.parts, ...rest] };
  }
  const parts = loc.parts.slice(0, i);
  for (const p of target.split("/")) {
    if (p === "" || p === ".") continue;
    if (p !== "..") parts.push(p);
    else if (parts.pop() === undefined) throw outside();
  }
  return { base: loc.base, parts: [...parts, ...rest] };
}

/** The base an absolute path lies in (the longest match), with its components below it. */
function baseOf(abs: string, bases: Base[]): Loc | undefined {
  let best: { base: Base; alias: string } | undefined;
  for (const base of bases) {
    for (const alias of base.aliases) {
      if (isInside(alias, abs) && (!best || alias.length > best.alias.length)) best = { base, alias };
    }
  }
  if (!best) return undefined;
  return { base: best.base, parts: relative(best.alias, abs).split(sep).filter(Boolean) };
}

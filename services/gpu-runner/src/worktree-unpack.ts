import { posix } from "node:path";
import { JOB_LIMITS } from "@mllead/contracts";
import { type ReadEntry, x } from "tar";
import { UnsafeArchiveError } from "./errors.js";

/** Entry types a worktree archive (`git archive` of a tree) holds; anything else is refused. */
const ALLOWED = new Set(["File", "OldFile", "ContiguousFile", "Directory", "SymbolicLink"]);

/**
 * Why a symbolic link's target is refused, or undefined when it stays inside the directory. Targets must be
 * relative, with `..` only as leading components, and land inside lexically: from the link's directory (a
 * real one: nothing is unpacked through a link) the leading `..` climb real directories and the rest only
 * descends, through links that obey the same rule, so no chain of links leads out — unlike `l -> .` with
 * `x -> l/..`, which looks inside by its letters and is the parent to the kernel.
 */
function badLinkTarget(path: string, target: string): string | undefined {
  if (target === "" || target.startsWith("/")) return "its target is absolute";
  const parts = target.split("/");
  const firstName = parts.findIndex((p) => p !== "..");
  if (firstName >= 0 && parts.slice(firstName).includes("..")) return "its target has '..' after a name";
  const lands = posix.normalize(posix.join(posix.dirname(path), target));
  if (lands === ".." || lands.startsWith("../")) return "its target is outside the job directory";
  return undefined;
}

/** Why an entry is refused, or undefined. */
function refusal(path: string, entry: ReadEntry): string | undefined {
  if (!ALLOWED.has(entry.type)) return `a ${entry.type} entry`;
  if (path.startsWith("/")) return "an absolute path";
  if (path.split("/").includes("..")) return "a path with '..'";
  if (entry.type === "SymbolicLink") return badLinkTarget(path, String(entry.linkpath ?? ""));
  return undefined;
}

/**
 * Unpacks a shipped worktree (a gzipped tar, as the specialist packs it with `git archive`) into `dir`, an
 * empty directory made for the job. Nothing lands outside `dir`: entries with an absolute path or `..`,
 * hard links, devices and FIFOs, and symbolic links whose target is absolute or leads out are refused
 * (`filter`); node-tar itself never unpacks through a symbolic link, replaces a link in the way instead of
 * writing through it, and anything else it skips or fails on is gathered as a refusal. Owners are not kept; modes are
 * (executables stay executable). More than `maxBytes` of file content (default the contracts' limit) is
 * refused. Any refusal throws an `UnsafeArchiveError` naming the entries, after the rest is unpacked.
 */
export async function unpackWorktree(archive: string, dir: string, maxBytes: number = JOB_LIMITS.maxShipBytes): Promise<void> {
  const refused: string[] = [];
  let bytes = 0;
  await x({
    file: archive,
    cwd: dir,
    // Not `strict`: it rejects at the first problem while writes still run; problems are gathered instead.
    strict: false,
    onwarn: (code, message) => {
      if (code !== "TAR_ENTRY_INFO") refused.push(`${String(message).slice(0, 200)} (${code})`);
    },
    preservePaths: false,
    preserveOwner: false,
    filter: (path, entry) => {
      const why = refusal(path, entry as ReadEntry);
      if (why) {
        refused.push(`${path.slice(0, 200)} (${why})`);
        return false;
      }
      bytes += (entry as ReadEntry).size ?? 0;
      if (bytes > maxBytes) {
        refused.push(`${path.slice(0, 200)} (past the ${maxBytes} bytes a worktree may hold)`);
        return false;
      }
      return true;
    },
  });
  if (refused.length > 0) {
    throw new UnsafeArchiveError(
      `the shipped worktree holds entries that were not unpacked: ${refused.slice(0, 5).join("; ")}${refused.length > 5 ? ` and ${refused.length - 5} more` : ""}`,
    );
  }
}

import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { Bus } from "@mllead/bus";
import { type JobWorktree, OBJECT_KEYS, OBJECT_STORE } from "@mllead/contracts";
import { infra, WorktreeTooLargeError } from "./errors.js";
import { runGit } from "./git-cli.js";
import { bare, type GuardedWorktree, recordedHead } from "./worktree-guard.js";
import { snapshotWorktree, treeOf } from "./worktree-snapshot.js";

/** Default limit on the worktree a GPU job ships (bytes of the uncompressed archive): MLLEAD_JOB_MAX_SHIP_MB's default. */
export const DEFAULT_MAX_SHIP_BYTES = 200 * 1024 * 1024;
/** Changed files larger than this are left out of a shipped worktree (and named); `inputs` carries them. */
export const MAX_SHIP_FILE_BYTES = 64 * 1024 * 1024;

/** A worktree packed and uploaded for a GPU job. */
export interface ShippedArchive {
  /** What the job message carries. */
  worktree: JobWorktree;
  /** Files (and links) in the archive. */
  files: number;
  /** Changed files left out, with why. */
  leftOut: string[];
}

/** The Object Store name of a shipped worktree: by its tree id, so the same state is uploaded once. */
export function worktreeObjectName(taskId: string, tree: string): string {
  return OBJECT_KEYS.worktree(taskId, tree);
}

/**
 * Packs the worktree as it is now — the branch's tracked files with the step's changes and its new files
 * that `.gitignore` does not ignore — and uploads it for a GPU job. The tree is made by `snapshotWorktree`
 * (Node reads the files without following a link; git runs on the service's git dirs only), and
 * `git archive` packs that tree from the repository, so nothing the worktree holds (`.git`, config, links)
 * steers what is read. Changed files over `MAX_SHIP_FILE_BYTES` and nested repositories are left out and
 * named; an archive over `maxBytes` is refused with a `WorktreeTooLargeError` the model reads.
 */
export async function shipWorktree(
  bus: Bus,
  wt: GuardedWorktree,
  taskId: string,
  opts: { maxBytes: number },
): Promise<ShippedArchive> {
  const snap = await snapshotWorktree(wt, await recordedHead(wt), {
    maxFileBytes: Math.min(MAX_SHIP_FILE_BYTES, opts.maxBytes),
    write: true,
  });
  const tree = snap.tree as string;
  const leftOut = snap.uncommitted.map((u) =>
    u.reason === "too_large" ? `${u.path} (${u.bytes ?? "?"} bytes)` : `${u.path} (${u.reason.replace("_", " ")})`,
  );
  const files = [...(await treeOf(wt, tree)).values()].filter((e) => e.mode !== "160000").length;
  const objectName = worktreeObjectName(taskId, tree);
  const store = await infra("opening the artifact store", () => bus.objectStore(OBJECT_STORE));
  const existing = await infra("looking up the shipped worktree", () => store.info(objectName));
  if (existing && !existing.deleted) {
    return { worktree: { objectName, tree, bytes: existing.size }, files, leftOut };
  }
  // `--format=tar`: no archive filter of the repository's config runs; Node compresses.
  const tar = await runGit(bare(wt), ["archive", "--format=tar", tree], { maxStdoutBytes: opts.maxBytes + 1 });
  if (tar.truncated || tar.bytes.length > opts.maxBytes) {
    throw new WorktreeTooLargeError(
      `the working directory is over ${Math.round(opts.maxBytes / 1024 / 1024)} MiB, the most a GPU job ships (MLLEAD_JOB_MAX_SHIP_MB): keep data and outputs in the data dirs or ignore them in .gitignore, and pass what the job needs in 'inputs'`,
    );
  }
  const packed = await promisify(gzip)(tar.bytes);
  const info = await infra("uploading the worktree", () => store.putBlob({ name: objectName }, packed));
  return { worktree: { objectName, tree, bytes: info.size }, files, leftOut };
}

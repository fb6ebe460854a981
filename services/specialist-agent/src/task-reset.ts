import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { lstatIfExists } from "./fs-absent.js";
import { runGit } from "./git-cli.js";
import { DEFAULT_MAX_COMMIT_FILE_BYTES } from "./task-branch.js";
import type { TaskWorktree } from "./task-worktree.js";
import { bare, guardWorktree, recordedHead, syncIndex } from "./worktree-guard.js";
import { snapshotWorktree, type TreeEntry, treeOf, type WorktreeSnapshot } from "./worktree-snapshot.js";

/** Files that could not be committed (too large, nested repositories) found before a step, by path, with what they looked like. */
export type Leftovers = ReadonlyMap<string, string>;

/** What `discardStepChanges` did. */
export interface DiscardResult {
  /** The commit the worktree was reset to (where the service left the branch). */
  head: string;
  /** Paths put back as the branch has them, or removed, sorted. */
  discarded: string[];
  /** Git metadata the step had changed, put back (see `guardWorktree`). */
  tampered: string[];
}

/** What a path looked like (inode, size, times), without following a link: unchanged leftovers are kept. */
async function signature(root: string, path: string): Promise<string> {
  const st = await lstatIfExists(join(root, path.replace(/\/$/, "")));
  if (!st) return "missing";
  return st.isDirectory() ? `dir:${st.ino}` : `${st.mode}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

async function leftoversOf(wt: TaskWorktree, snap: WorktreeSnapshot): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const u of snap.uncommitted) out.set(u.path, await signature(wt.root, u.path));
  return out;
}

/**
 * The uncommittable files in the worktree before a step (see `Leftovers`), so
 * that `discardStepChanges` after it removes only what the step made.
 */
export async function captureLeftovers(wt: TaskWorktree): Promise<Leftovers> {
  const snap = await snapshotWorktree(wt, await recordedHead(wt), { maxFileBytes: DEFAULT_MAX_COMMIT_FILE_BYTES });
  return leftoversOf(wt, snap);
}

/**
 * Removes `rel` from the worktree without following a link: the first
 * component that is not a real directory (a link, a file) is removed itself,
 * never what it points at.
 */
async function removeInside(root: string, rel: string): Promise<void> {
  const parts = rel.replace(/\/$/, "").split("/");
  for (let i = 1; i <= parts.length; i++) {
    const abs = join(root, ...parts.slice(0, i));
    const st = await lstatIfExists(abs);
    if (!st) return;
    if (i === parts.length || !st.isDirectory()) {
      await rm(abs, { recursive: true, force: true });
      return;
    }
  }
}

/** Writes the branch's version of `rel` (a file, an executable, a link), making real directories on the way. */
async function materialise(wt: TaskWorktree, rel: string, entry: TreeEntry): Promise<void> {
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) {
    const abs = join(wt.root, ...parts.slice(0, i));
    const st = await lstatIfExists(abs);
    if (st?.isDirectory()) continue;
    if (st) await rm(abs, { recursive: true, force: true });
    await mkdir(abs);
  }
  const data = (await runGit(bare(wt), ["cat-file", "blob", entry.oid])).bytes;
  const abs = join(wt.root, rel);
  if (entry.mode === "120000") await symlink(data.toString("utf8"), abs);
  // "wx": created here, never written through something already at the path.
  else await writeFile(abs, data, { flag: "wx", mode: entry.mode === "100755" ? 0o755 : 0o644 });
}

/**
 * After a step that must change nothing (the code reviewer): puts back any git
 * metadata it changed and the branch where the service left it, then resets
 * the worktree to that commit — tracked files changed or deleted are written
 * again from the branch (with their ignore files back first), new files that
 * would be committed are removed, and uncommittable files are removed unless
 * they were `leftovers` unchanged. Removal never follows a link the step
 * planted; no git program reads the worktree. Ignored files are kept.
 */
export async function discardStepChanges(wt: TaskWorktree, leftovers: Leftovers): Promise<DiscardResult> {
  const { head, tampered } = await guardWorktree(wt);
  const tree = await treeOf(wt, head);
  const discarded = new Set<string>();
  const opts = { maxFileBytes: DEFAULT_MAX_COMMIT_FILE_BYTES };

  // Tracked paths first: a deleted .gitignore must be back before new files are told from ignored ones.
  const first = await snapshotWorktree(wt, head, opts);
  const tracked = [
    ...first.changes.filter((c) => tree.has(c.path)).map((c) => c.path),
    ...first.uncommitted.filter((u) => tree.has(u.path)).map((u) => u.path),
  ];
  for (const path of tracked) {
    await removeInside(wt.root, path);
    discarded.add(path);
  }
  for (const path of tracked) {
    const entry = tree.get(path);
    if (entry && entry.mode !== "160000") await materialise(wt, path, entry);
  }

  const second = await snapshotWorktree(wt, head, opts);
  const now = await leftoversOf(wt, second);
  for (const c of second.changes) {
    await removeInside(wt.root, c.path);
    discarded.add(c.path);
  }
  for (const u of second.uncommitted) {
    if (leftovers.get(u.path) === now.get(u.path)) continue;
    await removeInside(wt.root, u.path);
    discarded.add(u.path);
  }
  await syncIndex(wt, head);
  return { head, discarded: [...discarded].sort(), tampered };
}

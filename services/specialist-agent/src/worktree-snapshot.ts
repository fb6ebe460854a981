import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { mkdtemp, open, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { isConfinedTempName } from "@mllead/sandbox";
import { GitError } from "./errors.js";
import { lstatIfExists } from "./fs-absent.js";
import { type GitDirs, runGit } from "./git-cli.js";
import { bare, type GuardedWorktree } from "./worktree-guard.js";

/** A changed file left out of a snapshot's tree. */
export interface UncommittedFile {
  path: string;
  /** `too_large`: over the size limit; `nested_repo`: a git repository inside the worktree; `unreadable_name`: a name that is not UTF-8. */
  reason: "too_large" | "nested_repo" | "unreadable_name";
  /** Its size (bytes) when `too_large`. */
  bytes?: number;
}

/** One path that differs from the snapshot's starting commit: its new mode and blob, or gone. */
export type Change = { path: string; mode: string; oid: string; added: boolean } | { path: string; deleted: true };

/** The worktree as git would commit it, made without letting git read the worktree's files. */
export interface WorktreeSnapshot {
  /** Paths that differ from the starting commit, sorted as git sorts paths. */
  changes: Change[];
  /** Changed files left out (the starting commit's version of them, if any, stays in the tree). */
  uncommitted: UncommittedFile[];
  /** With `write`: the tree of the starting commit with `changes` applied (its blobs written). */
  tree?: string;
}

/** Options of `snapshotWorktree`. */
export interface SnapshotOptions {
  /** Larger files are left out and reported (bytes). */
  maxFileBytes: number;
  /** Write the changed blobs and the tree into the repository (default false: only compare). */
  write?: boolean;
}

/** One entry of a commit's tree. */
export interface TreeEntry {
  mode: string;
  oid: string;
}

type Found =
  | { kind: "missing" }
  | { kind: "link"; mode: string; data: Buffer }
  | { kind: "file"; mode: string; data: Buffer }
  | { kind: "large"; mode: string; bytes: number; path: string };

const formats = new Map<string, Promise<string>>();

/** `sha1` or `sha256`: object ids are computed here and must match git's. */
function objectFormat(wt: GuardedWorktree): Promise<string> {
  let f = formats.get(wt.gitCommonDir);
  if (!f) {
    f = runGit(bare(wt), ["rev-parse", "--show-object-format"]).then((r) => r.stdout.trim() || "sha1");
    formats.set(wt.gitCommonDir, f);
  }
  return f;
}

function blobId(format: string, data: Buffer): string {
  return createHash(format).update(`blob ${data.length}\0`).update(data).digest("hex");
}

/** Streams a large file through the hash: whether it changed, without holding it in memory. */
async function blobIdOfFile(format: string, path: string, bytes: number): Promise<string> {
  const h = createHash(format).update(`blob ${bytes}\0`);
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    for await (const chunk of fh.createReadStream({ autoClose: false })) h.update(chunk as Buffer);
  } finally {
    await fh.close();
  }
  return h.digest("hex");
}

/** `git ls-tree -r -z --full-tree` of `commit`: path → mode and object. */
export async function treeOf(wt: GuardedWorktree, commit: string): Promise<Map<string, TreeEntry>> {
  const out = await runGit(bare(wt), ["ls-tree", "-r", "-z", "--full-tree", commit]);
  const entries = new Map<string, TreeEntry>();
  for (const rec of out.stdout.split("\0")) {
    const tab = rec.indexOf("\t");
    if (tab === -1) continue;
    const [mode = "", , oid = ""] = rec.slice(0, tab).split(" ");
    entries.set(rec.slice(tab + 1), { mode, oid });
  }
  return entries;
}

/**
 * Reads one path of the worktree without following a symlink anywhere in it:
 * a link is taken as a link (its target text is the blob), a path under a link
 * or under something that is no longer a directory counts as missing.
 */
class WorktreeReader {
  private readonly dirs = new Map<string, Promise<boolean>>();
  private readonly gitDirs = new Map<string, Promise<boolean>>();
  constructor(
    private readonly root: string,
    private readonly maxFileBytes: number,
  ) {}

  private realDir(rel: string): Promise<boolean> {
    if (rel === "") return Promise.resolve(true);
    let p = this.dirs.get(rel);
    if (!p) {
      const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
      p = this.realDir(parent).then(async (ok) => ok && (await lstatIfExists(join(this.root, rel)))?.isDirectory() === true);
      this.dirs.set(rel, p);
    }
    return p;
  }

  /** True when `rel` is itself a git dir (HEAD, objects/, refs/): a repository, even without a `.git` in it. */
  private isGitDir(rel: string): Promise<boolean> {
    let p = this.gitDirs.get(rel);
    if (!p) {
      const at = (name: string) => lstatIfExists(join(this.root, rel, name));
      p = Promise.all([at("HEAD"), at("objects"), at("refs")]).then(
        ([head, objects, refs]) => head?.isFile() === true && objects?.isDirectory() === true && refs?.isDirectory() === true,
      );
      this.gitDirs.set(rel, p);
    }
    return p;
  }

  /** The outermost directory above `rel` that is a git dir (as `dir/`), if any. */
  async repositoryAbove(rel: string): Promise<string | undefined> {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (await this.isGitDir(dir)) return `${dir}/`;
    }
    return undefined;
  }

  async read(rel: string): Promise<Found> {
    const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    if (!(await this.realDir(parent))) return { kind: "missing" };
    const abs = join(this.root, rel);
    const st = await lstatIfExists(abs);
    if (st?.isSymbolicLink())
      return { kind: "link", mode: "120000", data: Buffer.from(await readlink(abs, { encoding: "buffer" })) };
    if (!st?.isFile()) return { kind: "missing" };
    const mode = st.mode & 0o100 ? "100755" : "100644";
    if (st.size > this.maxFileBytes) return { kind: "large", mode, bytes: st.size, path: abs };
    // O_NOFOLLOW: a link swapped in since the lstat is refused, not followed.
    const fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return { kind: "file", mode, data: await fh.readFile() };
    } finally {
      await fh.close();
    }
  }
}

/** Most bytes of blob data handed to one `git fast-import`. */
const IMPORT_BATCH_BYTES = 64 * 1024 * 1024;

/** Writes blobs with `git fast-import` in batches (no filter or attribute is consulted); small batches land as loose objects. */
class BlobWriter {
  private parts: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly repo: GitDirs) {}

  async add(data: Buffer): Promise<void> {
    this.parts.push(Buffer.from(`blob\ndata ${data.length}\n`), data, Buffer.from("\n"));
    this.bytes += data.length;
    if (this.bytes >= IMPORT_BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const input = Buffer.concat(this.parts);
    this.parts = [];
    this.bytes = 0;
    await runGit(this.repo, ["fast-import", "--quiet"], { input });
  }
}

/**
 * The worktree compared with `head`, read by Node (lstat, never following a
 * link) rather than by git, so nothing the worktree names — `.git`,
 * `.gitattributes` filters, diff drivers — is consulted. Which untracked
 * files count comes from `git ls-files --others --exclude-standard`, which
 * reads ignore files only. Tracked files keep their committed mode unless the
 * executable bit changed; a link is a link (mode 120000); files over
 * `maxFileBytes` and nested repositories are left out and reported. With
 * `write`, the changed blobs go into the repository and `tree` is set.
 */
export async function snapshotWorktree(wt: GuardedWorktree, head: string, opts: SnapshotOptions): Promise<WorktreeSnapshot> {
  const format = await objectFormat(wt);
  const tracked = await treeOf(wt, head);
  const tmp = await mkdtemp(join(tmpdir(), "mllead-snap-"));
  try {
    const index = { env: { GIT_INDEX_FILE: join(tmp, "index") } };
    await runGit(bare(wt), ["read-tree", head], index);
    const withTree = { gitDir: wt.gitCommonDir, workTree: wt.root };
    const others = (await runGit(withTree, ["ls-files", "-z", "--others", "--exclude-standard"], index)).stdout
      .split("\0")
      .filter(Boolean);

    const reader = new WorktreeReader(wt.root, opts.maxFileBytes);
    const writer = new BlobWriter(bare(wt));
    const changes: Change[] = [];
    const uncommitted: UncommittedFile[] = [];
    const consider = async (path: string, before: TreeEntry | undefined): Promise<void> => {
      if (path.includes("\uFFFD")) {
        // Not UTF-8: Node cannot name it faithfully, so it is neither read nor removed from the tree.
        if (!before) uncommitted.push({ path, reason: "unreadable_name" });
        return;
      }
      const found = await reader.read(path);
      if (found.kind === "missing") {
        if (before) changes.push({ path, deleted: true });
        return;
      }
      if (found.kind === "large") {
        const same = before?.mode === found.mode && before.oid === (await blobIdOfFile(format, found.path, found.bytes));
        if (!same) uncommitted.push({ path, reason: "too_large", bytes: found.bytes });
        return;
      }
      const oid = blobId(format, found.data);
      if (before?.mode === found.mode && before.oid === oid) return;
      if (opts.write) await writer.add(found.data);
      changes.push({ path, mode: found.mode, oid, added: !before });
    };
    for (const [path, entry] of tracked) {
      // Submodules stay as committed.
      if (entry.mode !== "160000") await consider(path, entry);
    }
    const repos = new Set<string>();
    for (const path of others) {
      // A file tool's temporary file, left by a process that died before its rename: not the step's work.
      if (isConfinedTempName(basename(path))) continue;
      // git lists a directory holding a `.git` as `dir/`; a bare git dir it lists file by file.
      const repo = path.endsWith("/") ? path : await reader.repositoryAbove(path);
      if (repo) repos.add(repo);
      else await consider(path, undefined);
    }
    for (const path of repos) uncommitted.push({ path, reason: "nested_repo" });
    changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    if (!opts.write) return { changes, uncommitted };

    await writer.flush();
    const lines = [
      ...changes.filter((c) => "deleted" in c).map((c) => `0 ${"0".repeat(head.length)}\t${c.path}\0`),
      ...changes.flatMap((c) => ("deleted" in c ? [] : [`${c.mode} ${c.oid}\t${c.path}\0`])),
    ];
    if (lines.length > 0) await runGit(bare(wt), ["update-index", "-z", "--index-info"], { ...index, input: lines.join("") });
    const tree = (await runGit(bare(wt), ["write-tree"], index)).stdout.trim();
    if (!/^[0-9a-f]{40,64}$/.test(tree)) throw new GitError(`git write-tree printed '${tree.slice(0, 80)}', not a tree id`);
    return { changes, uncommitted, tree };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

import type { ScoutReport, ScoutTreeEntry } from "@mllead/contracts";
import { type GitDirs, runGit } from "./git-cli.js";
import type { SourceRepo } from "./git-repo.js";

/** Folders of tools and environments, never the team's work: left out of the tree wherever they are. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set([
  ".git",
  "node_modules",
  ".venv",
  "venv",
  "__pycache__",
  ".mypy_cache",
  ".pytest_cache",
  ".ruff_cache",
  ".tox",
  ".ipynb_checkpoints",
]);

/** The files the scout reads the head of, at the top of the repository (case-insensitive). */
const DOCS = [/^readme(\.(md|rst|txt))?$/i, /^claude\.md$/i, /^agents\.md$/i];
/** Folders the tree shows below the root: three levels (`a/b/c/` summarised). */
export const TREE_DEPTH = 3;

/** One file of the commit, as `git ls-tree -r -l` lists it. */
interface BlobEntry {
  path: string;
  bytes: number;
  sha: string;
  /** A regular file (not a symbolic link or a submodule). */
  regular: boolean;
}

/** A folder of the commit with every file below it counted. */
export interface TreeNode {
  path: string;
  bytes: number;
  files: number;
  dirs: Map<string, TreeNode>;
  leaves: { path: string; bytes: number }[];
}

/** What the scout reads from the commit a new task would start from. */
export interface RepoFacts {
  repo: ScoutReport["repo"];
  root: TreeNode;
  docs: { path: string; text: string; truncated: boolean }[];
  commits: ScoutReport["commits"];
  notes: string[];
}

/** Most bytes of `git ls-tree` output read (a tree of ~200k files). */
const MAX_LS_TREE_BYTES = 32 * 1024 * 1024;
/** Bytes of each doc read; the budget cuts them further. */
const DOC_BYTES = 16 * 1024;
const GIT_TIMEOUT_MS = 20_000;

/** Parses `git ls-tree -r -l -z` output: `<mode> <type> <sha> <size>\t<path>\0`. */
export function parseLsTree(out: string): BlobEntry[] {
  const entries: BlobEntry[] = [];
  for (const rec of out.split("\0")) {
    const tab = rec.indexOf("\t");
    if (tab < 0) continue;
    const [mode = "", type = "", sha = "", size = ""] = rec.slice(0, tab).split(/ +/);
    if (type !== "blob") continue;
    entries.push({ path: rec.slice(tab + 1), bytes: Number(size) || 0, sha, regular: mode === "100644" || mode === "100755" });
  }
  return entries;
}

/** The files as a folder tree with counts and sizes, tool folders (SKIPPED_DIRS) left out. */
export function buildTree(entries: readonly { path: string; bytes: number }[]): TreeNode {
  const root: TreeNode = { path: "", bytes: 0, files: 0, dirs: new Map(), leaves: [] };
  for (const e of entries) {
    const parts = e.path.split("/");
    if (parts.slice(0, -1).some((p) => SKIPPED_DIRS.has(p))) continue;
    let node = root;
    node.bytes += e.bytes;
    node.files += 1;
    for (const part of parts.slice(0, -1)) {
      let next = node.dirs.get(part);
      if (!next) {
        next = { path: node.path ? `${node.path}/${part}` : part, bytes: 0, files: 0, dirs: new Map(), leaves: [] };
        node.dirs.set(part, next);
      }
      next.bytes += e.bytes;
      next.files += 1;
      node = next;
    }
    node.leaves.push({ path: e.path, bytes: e.bytes });
  }
  return root;
}

const byPath = <T extends { path: string }>(a: T, b: T) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * The tree as at most `maxEntries` lines: folders are opened level by level (breadth first, to TREE_DEPTH) while
 * their contents fit, so every top-level folder is shown before any deep one; a folder left closed is one line
 * with its file count and size. `truncated` when the limit (not the depth) kept something out.
 */
export function treeEntries(root: TreeNode, maxEntries: number): { entries: ScoutTreeEntry[]; truncated: boolean } {
  const childrenOf = (n: TreeNode) => n.dirs.size + n.leaves.length;
  const open = new Set<TreeNode>([root]);
  let count = childrenOf(root);
  let truncated = count > maxEntries;
  let level: TreeNode[] = [...root.dirs.values()].sort(byPath);
  for (let depth = 1; depth < TREE_DEPTH && count <= maxEntries; depth++) {
    const next: TreeNode[] = [];
    for (const dir of level) {
      if (count + childrenOf(dir) > maxEntries) {
        truncated = true;
        continue;
      }
      open.add(dir);
      count += childrenOf(dir);
      next.push(...[...dir.dirs.values()].sort(byPath));
    }
    level = next;
  }
  const entries: ScoutTreeEntry[] = [];
  const walk = (n: TreeNode) => {
    const items: ({ dir: TreeNode; path: string } | { leaf: { path: string; bytes: number }; path: string })[] = [
      ...[...n.dirs.values()].map((dir) => ({ dir, path: dir.path })),
      ...n.leaves.map((leaf) => ({ leaf, path: leaf.path })),
    ].sort(byPath);
    for (const item of items) {
      if (entries.length >= maxEntries) return;
      // Paths are cut to the 500 characters a report carries.
      if ("leaf" in item) entries.push({ path: item.leaf.path.slice(0, 500), kind: "file", bytes: item.leaf.bytes });
      else {
        entries.push({ path: item.dir.path.slice(0, 500), kind: "dir", bytes: item.dir.bytes, files: item.dir.files });
        if (open.has(item.dir)) walk(item.dir);
      }
    }
  };
  walk(root);
  return { entries, truncated };
}

/**
 * Reads the commit a new task would start from (`source.baseRef`) through the service's own git — the
 * repository's git dir named explicitly, no work tree — so nothing a step wrote in a task's worktree (files,
 * `.git`, HEAD) is ever read: the tree and the docs come from the commit's objects, and only tracked files
 * exist there (what `.gitignore` keeps out of git is never listed).
 */
export async function readRepoFacts(source: SourceRepo, opts: { commits?: number } = {}): Promise<RepoFacts> {
  const git: GitDirs = { gitDir: source.gitDir };
  const notes: string[] = [];
  const run = (args: string[], maxStdoutBytes?: number) =>
    runGit(git, args, { timeoutMs: GIT_TIMEOUT_MS, ...(maxStdoutBytes ? { maxStdoutBytes } : {}) });
  const commit = (await run(["rev-parse", "--verify", "--quiet", `${source.baseRef}^{commit}`])).stdout.trim();
  const listed = await run(["ls-tree", "-r", "-l", "-z", "--full-tree", commit], MAX_LS_TREE_BYTES);
  if (listed.truncated) notes.push("the repository has more files than the scout lists; the tree shows the first ones");
  const blobs = parseLsTree(listed.stdout);
  const root = buildTree(blobs);
  const docs: RepoFacts["docs"] = [];
  for (const pattern of DOCS) {
    const doc = blobs.find((b) => !b.path.includes("/") && b.regular && pattern.test(b.path));
    if (!doc) continue;
    const out = await run(["cat-file", "blob", doc.sha], DOC_BYTES);
    docs.push({ path: doc.path.slice(0, 500), text: out.stdout, truncated: out.truncated || doc.bytes > DOC_BYTES });
  }
  const log = await run(["log", "-n", String(opts.commits ?? 10), "--no-show-signature", "--format=%H%x1f%aI%x1f%s", commit]);
  const commits = log.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [sha = "", date = "", subject = ""] = line.split("\x1f");
      return { sha, date: date.slice(0, 10), subject: subject.slice(0, 300) };
    });
  return { repo: { label: source.label, ref: source.baseRef, commit }, root, docs, commits, notes };
}

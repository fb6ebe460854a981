import { randomBytes } from "node:crypto";
import { readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseTrailers, stepTrailers } from "./commit-message.js";
import { GitError } from "./errors.js";
import { lstatIfExists } from "./fs-absent.js";
import { GIT_IDENTITY, type GitDirs, runGit } from "./git-cli.js";

/** What the guard needs of a task's worktree (a `TaskWorktree` has it all). */
export interface GuardedWorktree {
  taskId: string;
  /** The working tree; `<root>/.git` is the step's to write, so it is only ever written here, never read. */
  root: string;
  /** `mllead/<taskId>`. */
  branch: string;
  /** `<common>/worktrees/<name>`, found by the service (see `findWorktreeGitDir`). */
  gitDir: string;
  gitCommonDir: string;
}

/** Where the service left the task's branch. */
interface HeadRecord {
  head: string;
}

/** The file, in the worktree's own git dir (read-only to steps), that says where the service left the branch. */
const RECORD = "mllead-head.json";

/** The repository with no work tree: every guard and commit command runs on it. */
export const bare = (wt: Pick<GuardedWorktree, "gitCommonDir">): GitDirs => ({ gitDir: wt.gitCommonDir });

/**
 * The git dir of the worktree at `root`: the entry of `<commonDir>/worktrees/`
 * whose `gitdir` file names `<root>/.git`. Read from the repository (which
 * steps cannot write), never from the worktree's `.git` (which they can).
 */
export async function findWorktreeGitDir(commonDir: string, root: string): Promise<string | undefined> {
  const dir = join(commonDir, "worktrees");
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const want = join(root, ".git");
  for (const name of names.sort()) {
    const text = await readFile(join(dir, name, "gitdir"), "utf8").catch((err: NodeJS.ErrnoException) => {
      // An entry git is still making, or one without a worktree: not ours.
      if (err.code === "ENOENT" || err.code === "ENOTDIR") return "";
      throw err;
    });
    if (text.trim() === want) return join(dir, name);
  }
  return undefined;
}

/** Replaces `path` by a file holding `content`, never writing through a link planted there. */
async function replaceFile(path: string, content: string): Promise<void> {
  const tmp = `${path}.mllead-${randomBytes(4).toString("hex")}`;
  await writeFile(tmp, content, { flag: "wx" });
  // rename replaces a link or file itself; a directory in the way is removed first (rm never follows links).
  const st = await lstatIfExists(path);
  if (st?.isDirectory()) await rm(path, { recursive: true, force: true });
  await rename(tmp, path);
}

/** True when `path` is a plain file holding exactly `content`. */
async function holds(path: string, content: string): Promise<boolean> {
  const st = await lstatIfExists(path);
  return st?.isFile() === true && (await readFile(path, "utf8")) === content;
}

/**
 * Puts back what links the worktree to its git dir: `<root>/.git` (a file
 * naming the git dir) and the git dir's `HEAD` (the task's branch). Returns a
 * line for each thing that had been changed.
 */
export async function restoreWorktreeLinks(wt: GuardedWorktree): Promise<string[]> {
  const notes: string[] = [];
  const dotGit = join(wt.root, ".git");
  if (!(await holds(dotGit, `gitdir: ${wt.gitDir}\n`))) {
    const st = await lstatIfExists(dotGit);
    const was = !st
      ? "deleted"
      : st.isDirectory()
        ? "replaced by a directory"
        : st.isSymbolicLink()
          ? "replaced by a link"
          : "rewritten";
    await replaceFile(dotGit, `gitdir: ${wt.gitDir}\n`);
    notes.push(`the worktree's .git had been ${was}; mllead put it back and did not use it`);
  }
  const head = join(wt.gitDir, "HEAD");
  if (!(await holds(head, `ref: refs/heads/${wt.branch}\n`))) {
    await replaceFile(head, `ref: refs/heads/${wt.branch}\n`);
    notes.push(`the worktree's HEAD no longer named ${wt.branch}; mllead put it back`);
  }
  return notes;
}

async function readRecord(wt: GuardedWorktree): Promise<HeadRecord | undefined> {
  const text = await readFile(join(wt.gitDir, RECORD), "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  const parsed = JSON.parse(text) as Partial<HeadRecord>;
  if (typeof parsed.head !== "string" || !/^[0-9a-f]{40,64}$/.test(parsed.head)) {
    throw new GitError(`'${join(wt.gitDir, RECORD)}' does not name a commit`);
  }
  return { head: parsed.head };
}

/** Records where the service leaves the branch. */
export async function writeHeadRecord(wt: GuardedWorktree, record: HeadRecord): Promise<void> {
  await replaceFile(join(wt.gitDir, RECORD), `${JSON.stringify(record)}\n`);
}

/** The commit the task's branch points at now, or null when it is gone. */
export async function readBranch(wt: GuardedWorktree): Promise<string | null> {
  const r = await runGit(bare(wt), ["rev-parse", "--verify", "--quiet", `refs/heads/${wt.branch}`], { okExitCodes: [1] });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

/** Records the branch's current commit as where the service left it, unless a record exists. */
export async function ensureHeadRecord(wt: GuardedWorktree): Promise<void> {
  if (await readRecord(wt)) return;
  const head = await readBranch(wt);
  if (!head) throw new GitError(`the task's branch ${wt.branch} does not exist`);
  await writeHeadRecord(wt, { head });
}

/** Where the service left the task's branch (the branch's commit when nothing is recorded yet). */
export async function recordedHead(wt: GuardedWorktree): Promise<string> {
  const rec = await readRecord(wt);
  if (rec) return rec.head;
  const head = await readBranch(wt);
  if (!head) throw new GitError(`the task's branch ${wt.branch} does not exist`);
  return head;
}

/**
 * Moves `refs/heads/<branch>` from `from` (null: must not exist) to `to`, and
 * only if it is at `from` (a compare-and-swap on that one ref). Throws a
 * GitError whose stderr says "but expected" when it was elsewhere.
 */
export async function moveBranch(wt: GuardedWorktree, to: string, from: string | null, reason: string): Promise<void> {
  const old = from ?? "0".repeat(to.length);
  await runGit(bare(wt), ["update-ref", "-m", reason, `refs/heads/${wt.branch}`, to, old]);
}

/** What `guardWorktree` found and put back. */
export interface GuardResult {
  /** Where the service left the branch; it is there again now. */
  head: string;
  /** One line per thing a step (or anyone) had changed, for the step's result and the log. */
  tampered: string[];
}

/** Most commits past the record that are looked at to tell the service's own from someone else's. */
const MAX_OWN_COMMITS = 200;

/**
 * True when `to` descends from `from` through commits the service made for
 * this task only (its identity as committer, the task's trailer): ones made
 * by another process of the service, or by one that crashed before recording
 * them. Steps cannot make commit objects (the repository is read-only to them).
 */
async function ownCommits(wt: GuardedWorktree, from: string, to: string): Promise<boolean> {
  const r = await runGit(bare(wt), ["merge-base", "--is-ancestor", from, to], { okExitCodes: [1] });
  if (r.exitCode !== 0) return false;
  const format = "--format=%cn%x1f%ce%x1f%(trailers:only,unfold)%x1e";
  const log = await runGit(bare(wt), ["log", format, `--max-count=${MAX_OWN_COMMITS + 1}`, `${from}..${to}`]);
  const records = log.stdout.split("\x1e").filter((x) => x.trim());
  if (records.length > MAX_OWN_COMMITS) return false;
  return records.every((rec) => {
    const [name = "", email = "", trailers = ""] = rec.replace(/^\n/, "").split("\x1f");
    const t = stepTrailers(parseTrailers(trailers));
    return name === GIT_IDENTITY.name && email === GIT_IDENTITY.email && t.taskId === wt.taskId;
  });
}

/**
 * Before the service acts on a worktree a step used: puts back the worktree's
 * `.git` and `HEAD`, and the task's branch where the service left it. The
 * branch may have moved on through the service's own commits for this task
 * (another process, or one that stopped before recording); anything else is
 * put back and reported.
 */
export async function guardWorktree(wt: GuardedWorktree): Promise<GuardResult> {
  const tampered = await restoreWorktreeLinks(wt);
  const rec = await readRecord(wt);
  const current = await readBranch(wt);
  if (!rec) {
    if (!current) throw new GitError(`the task's branch ${wt.branch} does not exist`);
    await writeHeadRecord(wt, { head: current });
    return { head: current, tampered };
  }
  if (current === rec.head) return { head: rec.head, tampered };
  if (current && (await ownCommits(wt, rec.head, current))) {
    await writeHeadRecord(wt, { head: current });
    return { head: current, tampered };
  }
  await moveBranch(wt, rec.head, current, "mllead: put back where mllead left it");
  tampered.push(
    `the task's branch ${wt.branch} had moved to ${current ? current.slice(0, 12) : "nowhere (deleted)"}; mllead put it back at ${rec.head.slice(0, 12)}`,
  );
  return { head: rec.head, tampered };
}

/** Makes the worktree's index match `commit`, so `git status` in the next step shows only what changed since. */
export async function syncIndex(wt: GuardedWorktree, commit: string): Promise<void> {
  await runGit(bare(wt), ["read-tree", commit], { env: { GIT_INDEX_FILE: join(wt.gitDir, "index") } });
}

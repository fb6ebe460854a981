import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Versioned } from "@mllead/bus";
import { ConflictError } from "@mllead/bus";
import { bestEffort, KeyedQueue } from "@mllead/service-kit";
import type { Logger } from "pino";
import type { TaskBranchRecord, TaskBranchStore } from "./branch-store.js";
import { parseTrailers, stepTrailers } from "./commit-message.js";
import { GitBusyError, StepConflictError, TaskBaseMissingError, TaskBranchSyncError } from "./errors.js";
import { type GitDirs, gitLine, gitOk, runGit } from "./git-cli.js";
import type { SourceRepo } from "./git-repo.js";
import type { TaskFilesLimits } from "./settings.js";
import { baseConfigKey, taskBranch } from "./task-worktree.js";

/** Times a join reads the head again after another replica moved it first. */
const JOIN_TRIES = 20;
/** Times a sync reads the record again when its bundle was replaced meanwhile. */
const SYNC_TRIES = 5;

/** Where a task's branch stands, here and in the shared record. */
export interface TaskHead {
  base: string;
  head: string;
  /** The record's revision the head was read at (what the next compare-and-swap names). */
  revision: number;
  record: TaskBranchRecord;
}

/** What syncing and joining a task's branch work with. */
export interface BranchSync {
  source: SourceRepo;
  store: TaskBranchStore;
  taskId: string;
  log: Logger;
  /** How much of the steps' uncommitted files travel (`task-files-carry.ts`); default `DEFAULT_TASK_FILES`. */
  files?: TaskFilesLimits;
}

/** A step's commit as it joined the task's branch. */
export interface JoinedCommit {
  /** The commit now on the task's branch: the step's own (fast-forward) or its copy on the newer head. */
  sha: string;
  /** The head the step's commit was re-applied onto, when the branch had moved since the step started. */
  rebasedOnto?: string;
}

const repoOf = (source: SourceRepo): GitDirs => ({ gitDir: source.gitCommonDir });
const hasCommit = (repo: GitDirs, sha: string) => gitOk(repo, ["cat-file", "-e", `${sha}^{commit}`]);
// One join or sync of a task at a time in this process; replicas are kept apart by the record's revision.
const taskLocks = new KeyedQueue();

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTemp<T>(log: Logger, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "mllead-bundle-"));
  try {
    return await fn(dir);
  } finally {
    await bestEffort("remove a bundle's temporary directory", log, () => rm(dir, { recursive: true, force: true }));
  }
}

/** Unpacks the record's bundle into the repository; false when the bundle is gone (a newer head replaced it). */
async function fetchBundle(ctx: BranchSync, rec: TaskBranchRecord): Promise<boolean> {
  const repo = repoOf(ctx.source);
  if (!rec.bundle) throw new TaskBranchSyncError(`the task's branch record names head ${rec.head} but no bundle holding it`);
  return withTemp(ctx.log, async (dir) => {
    const file = join(dir, "branch.bundle");
    if (!(await ctx.store.download(rec.bundle as string, file))) return false;
    const fail = (message: string, args: string[], exitCode: number | null, stderr: string) =>
      new TaskBranchSyncError(
        `the bundle of task ${ctx.taskId}'s branch does not apply here: ${message}`,
        args,
        exitCode,
        stderr,
      );
    // Only objects come in: the bundle's refs are ignored, the branch is set to the recorded head below.
    await runGit(repo, ["bundle", "unbundle", file], { fail });
    if (!(await hasCommit(repo, rec.head)))
      throw new TaskBranchSyncError(`the bundle of task ${ctx.taskId} lacks its head ${rec.head}`);
    return true;
  });
}

/** The record, started from this repository's base ref when no replica has started the task yet. */
async function readOrStart(ctx: BranchSync): Promise<Versioned<TaskBranchRecord>> {
  for (let i = 0; i < SYNC_TRIES; i++) {
    const rec = await ctx.store.read(ctx.taskId);
    if (rec) return rec;
    const base = await gitLine({ gitDir: ctx.source.gitDir }, ["rev-parse", "--verify", `${ctx.source.baseRef}^{commit}`]);
    const started = await ctx.store.start(ctx.taskId, base);
    if (started) return started;
  }
  throw new GitBusyError(`the branch record of task ${ctx.taskId} kept appearing and going while it was read`);
}

/**
 * Brings the task's branch into this replica's repository as the shared record has it: starts the record
 * from the repository's base ref for a new task, unpacks the bundle when the head is not here, and sets
 * `refs/heads/mllead/<taskId>` (a cache of the record) and its recorded base. A repository without the
 * task's base commit fails with `TaskBaseMissingError` (replicas must work on the same repository).
 */
export async function syncTaskBranch(ctx: BranchSync): Promise<TaskHead> {
  return taskLocks.run(ctx.taskId, () => syncUnlocked(ctx));
}

async function syncUnlocked(ctx: BranchSync): Promise<TaskHead> {
  const repo = repoOf(ctx.source);
  for (let i = 0; i < SYNC_TRIES; i++) {
    const { value: rec, revision } = await readOrStart(ctx);
    if (!(await hasCommit(repo, rec.base))) {
      throw new TaskBaseMissingError(
        `this replica's repository (${ctx.source.label}) lacks commit ${rec.base}, where task ${ctx.taskId}'s branch starts: every specialist replica must work on the same repository (MLLEAD_REPO; without it, the same mllead version's demo repository)`,
      );
    }
    if (!(await hasCommit(repo, rec.head)) && !(await fetchBundle(ctx, rec))) continue;
    const branch = taskBranch(ctx.taskId);
    await runGit(repo, ["update-ref", "-m", "mllead: the task's branch as recorded", `refs/heads/${branch}`, rec.head]);
    await runGit(repo, ["config", baseConfigKey(branch), rec.base]);
    return { base: rec.base, head: rec.head, revision, record: rec };
  }
  throw new TaskBranchSyncError(`the bundle of task ${ctx.taskId}'s branch kept being replaced while it was fetched`);
}

/** The commit on `base..head` that a step attempt made (its trailers), if there is one. */
async function findStepCommit(
  repo: GitDirs,
  taskId: string,
  base: string,
  head: string,
  step: StepKey,
): Promise<string | undefined> {
  const out = await runGit(repo, ["log", "--format=%H%x1f%(trailers:only,unfold)%x1e", `${base}..${head}`]);
  for (const record of out.stdout.split("\x1e")) {
    const [sha = "", trailers = ""] = record.replace(/^\n/, "").split("\x1f");
    const t = stepTrailers(parseTrailers(trailers));
    if (sha && t.taskId === taskId && t.stepId === step.stepId && t.attempt === step.attempt) return sha;
  }
  return undefined;
}

/** Which step attempt a commit belongs to. */
export interface StepKey {
  stepId: string;
  attempt: number;
}

/**
 * The step's work re-applied onto `head` as one commit (git's 3-way merge, from where the step's branch left the
 * task's branch, with what the branch gained since; no work tree is read). The step's work is everything on its
 * branch since then: one commit, or more when a redelivered attempt committed again on top of an earlier try's
 * commit that never joined. A real conflict is a `StepConflictError` naming the files.
 */
async function reapply(repo: GitDirs, commit: string, head: string): Promise<string> {
  const fork = await runGit(repo, ["merge-base", head, commit], { okExitCodes: [1] });
  if (fork.exitCode === 1 || !fork.stdout.trim()) {
    throw new StepConflictError(
      `the step's commit ${commit.slice(0, 12)} shares no history with the task's branch (now ${head.slice(0, 12)})`,
      [],
    );
  }
  const merged = await runGit(repo, ["merge-tree", "--write-tree", "--name-only", "--no-messages", head, commit], {
    okExitCodes: [1],
  });
  const [tree = "", ...files] = merged.stdout.split("\n").filter(Boolean);
  if (merged.exitCode === 1) {
    const names = [...new Set(files)];
    throw new StepConflictError(
      `this step's changes conflict with changes another step of the task committed meanwhile, in ${names.join(", ")}`,
      names,
    );
  }
  const message = (await runGit(repo, ["log", "-1", "--format=%B", commit])).stdout;
  return gitLine(repo, ["commit-tree", tree, "-p", head, "-F", "-"], { input: message });
}

/** Bundles `base..head` into `file` (a temporary ref names the head; only the task's own commits go in). */
async function writeBundle(repo: GitDirs, taskId: string, base: string, head: string, file: string): Promise<void> {
  const ref = `refs/mllead/outgoing/${taskId}`;
  await runGit(repo, ["update-ref", ref, head]);
  try {
    await runGit(repo, ["bundle", "create", "--quiet", file, ref, `^${base}`]);
  } finally {
    await runGit(repo, ["update-ref", "-d", ref]);
  }
}

/**
 * Puts a step's commit (made on its own branch, from the head it started at) on the task's branch: a
 * fast-forward when the head is its parent, else the step's work re-applied onto the head as one commit (the
 * head moved for another step, or a redelivered try committed on top of a commit that never joined). The new head is
 * bundled (`base..head`), uploaded, and recorded by compare-and-swap; a replica that moved the head first
 * makes this one read it and try again. A commit of the same attempt already on the branch is returned as
 * it is (a resumed step). A real conflict throws `StepConflictError`.
 */
export async function joinStepCommit(ctx: BranchSync, commit: string, step: StepKey): Promise<JoinedCommit> {
  const repo = repoOf(ctx.source);
  for (let i = 0; i < JOIN_TRIES; i++) {
    const joined = await taskLocks.run(ctx.taskId, async () => {
      const cur = await syncUnlocked(ctx);
      const already = await findStepCommit(repo, ctx.taskId, cur.base, cur.head, step);
      if (already) return { sha: already };
      const parent = await gitLine(repo, ["rev-parse", `${commit}^`]);
      const next = parent === cur.head ? commit : await reapply(repo, commit, cur.head);
      const bundle = ctx.store.bundleName(ctx.taskId, next);
      await withTemp(ctx.log, async (dir) => {
        const file = join(dir, "branch.bundle");
        await writeBundle(repo, ctx.taskId, cur.base, next, file);
        await ctx.store.upload(bundle, file);
      });
      const value = { ...cur.record, head: next, bundle, stepId: step.stepId, updatedAt: new Date().toISOString() };
      try {
        await ctx.store.advance(ctx.taskId, value, cur.revision);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        ctx.log.info({ head: cur.head }, "another replica moved the task's branch first; joining again");
        if (bundle !== cur.record.bundle) await bestEffort("delete an unused bundle", ctx.log, () => ctx.store.remove(bundle));
        return undefined;
      }
      await runGit(repo, [
        "update-ref",
        "-m",
        "mllead: a step joined the task's branch",
        `refs/heads/${taskBranch(ctx.taskId)}`,
        next,
      ]);
      const old = cur.record.bundle;
      if (old && old !== bundle) await bestEffort("delete the task's previous bundle", ctx.log, () => ctx.store.remove(old));
      return parent === cur.head ? { sha: next } : { sha: next, rebasedOnto: cur.head };
    });
    if (joined) return joined;
  }
  throw new GitBusyError(`the branch of task ${ctx.taskId} kept moving under ${JOIN_TRIES} tries to join a step's commit`);
}

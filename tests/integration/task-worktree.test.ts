import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { openSourceRepo, type SourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import { commitStep, listTaskCommits, pushBranch } from "../../services/specialist-agent/src/task-branch.js";
import { changedFilesSinceBase, diffFromBase } from "../../services/specialist-agent/src/task-diff.js";
import { openTaskWorktree, type TaskWorktree } from "../../services/specialist-agent/src/task-worktree.js";

const JOBS_DIR = fileURLToPath(new URL("../../jobs", import.meta.url));
const run = promisify(execFile);

/** Runs git as a person would in their own repository (their identity, no global config). */
async function git(cwd: string, ...args: string[]): Promise<string> {
  const env = { PATH: process.env.PATH, HOME: cwd, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  const identity = ["-c", "user.name=Ada", "-c", "user.email=ada@team.example", "-c", "init.defaultBranch=main"];
  return (await run("git", [...identity, ...args], { cwd, env })).stdout.trim();
}

/** A temporary directory removed when the test's `await using` scope ends. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), "mllead-wt-"));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** The team's repository: a commit on `main`, a feature branch checked out and an uncommitted change in progress. */
async function teamRepo(dir: string): Promise<string> {
  const repo = join(dir, "team");
  await mkdir(repo);
  await git(repo, "init", "--quiet");
  await writeFile(join(repo, "train.py"), "print('train')\n");
  await writeFile(join(repo, ".gitignore"), "data/\n");
  await git(repo, "add", "--all");
  await git(repo, "commit", "--quiet", "-m", "Initial model");
  await git(repo, "checkout", "--quiet", "-b", "ada/experiment");
  await writeFile(join(repo, "train.py"), "print('half-done idea')\n");
  return repo;
}

const step = (stepId: string, attempt = 1) =>
  ({ taskId: "t-abc123", stepId, role: "data-engineer", attempt, title: `Work on ${stepId}` }) as const;

async function demoTask(dir: string, taskId = "t-abc123"): Promise<{ source: SourceRepo; wt: TaskWorktree }> {
  const source = await openSourceRepo({ stateDir: join(dir, "state"), demoSourceDir: JOBS_DIR });
  return { source, wt: await openTaskWorktree(source, { workspaceDir: join(dir, "ws"), taskId }) };
}

describe("source repositories", () => {
  it("makes the demo repository from the shipped jobs once, even when two opens race", async () => {
    await using dir = await tempDir();
    const opts = { stateDir: join(dir.path, "state"), demoSourceDir: JOBS_DIR };
    const [a, b] = await Promise.all([openSourceRepo(opts), openSourceRepo(opts)]);
    const c = await openSourceRepo(opts);
    expect(a.kind).toBe("demo");
    expect(new Set([a.dir, b.dir, c.dir])).toEqual(new Set([join(dir.path, "state", "demo-repo")]));
    expect(await git(a.dir, "rev-list", "--count", "main")).toBe("1");
    const files = (await git(a.dir, "ls-files")).split("\n");
    expect(files).toEqual(expect.arrayContaining([".gitignore", "README.md", "jobs/train.py", "jobs/prepare_data.py"]));
    expect(await git(a.dir, "log", "-1", "--format=%an <%ae>")).toBe("mllead <mllead@users.noreply.local>");
  });

  it("uses a team repository given as a path without touching its working tree or branch", async () => {
    await using dir = await tempDir();
    const repo = await teamRepo(dir.path);
    const source = await openSourceRepo({ repo, stateDir: join(dir.path, "state"), demoSourceDir: JOBS_DIR });
    const wt = await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "t-abc123" });

    expect(source.kind).toBe("local");
    expect(wt.branch).toBe("mllead/t-abc123");
    expect(wt.root).toBe(join(dir.path, "ws", "t-abc123"));
    expect(wt.baseCommit).toBe(await git(repo, "rev-parse", "HEAD"));
    expect(wt.gitCommonDir).toBe(join(repo, ".git"));
    expect(existsSync(join(wt.gitDir, "HEAD"))).toBe(true);
    // The worktree holds the committed file; the team's checkout keeps its branch and its unfinished edit.
    expect(await readFile(join(wt.root, "train.py"), "utf8")).toBe("print('train')\n");
    expect(await git(repo, "branch", "--show-current")).toBe("ada/experiment");
    expect(await git(repo, "status", "--porcelain")).toBe("M train.py");
    expect(await git(wt.root, "branch", "--show-current")).toBe("mllead/t-abc123");
  });

  it("clones a repository given as a file:// URL once and fetches it on later opens", async () => {
    await using dir = await tempDir();
    const repo = await teamRepo(dir.path);
    await git(repo, "checkout", "--quiet", "main");
    const opts = { repo: `file://${repo}`, stateDir: join(dir.path, "state"), demoSourceDir: JOBS_DIR };
    const source = await openSourceRepo(opts);
    expect(source.kind).toBe("clone");
    expect(source.dir.startsWith(join(dir.path, "state", "repos", "team-"))).toBe(true);
    const first = await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "t-1" });
    expect(first.baseCommit).toBe(await git(repo, "rev-parse", "main"));

    await writeFile(join(repo, "README.md"), "# churn\n");
    await git(repo, "add", "README.md");
    await git(repo, "commit", "--quiet", "-m", "Readme");
    const again = await openSourceRepo(opts);
    expect(again.dir).toBe(source.dir);
    const second = await openTaskWorktree(again, { workspaceDir: join(dir.path, "ws"), taskId: "t-2" });
    expect(second.baseCommit).toBe(await git(repo, "rev-parse", "main"));
    // A task already under way keeps the base it started from.
    expect((await openTaskWorktree(again, { workspaceDir: join(dir.path, "ws"), taskId: "t-1" })).baseCommit).toBe(
      first.baseCommit,
    );
  });

  it("says clearly when MLLEAD_REPO is not a repository", async () => {
    await using dir = await tempDir();
    await expect(
      openSourceRepo({ repo: dir.path, stateDir: join(dir.path, "s"), demoSourceDir: JOBS_DIR }),
    ).rejects.toMatchObject({
      code: "source_repo_failed",
      message: expect.stringContaining("is not a git repository"),
    });
  });
});

describe("task worktrees", () => {
  it("reopens the same worktree, branch and base after a crash, keeping the commits", async () => {
    await using dir = await tempDir();
    const { source, wt } = await demoTask(dir.path);
    await writeFile(join(wt.root, "notes.md"), "hello\n");
    await commitStep(wt, step("prep"));

    expect(await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "t-abc123" })).toEqual(wt);
    // The worktree directory is lost (a wiped disk, a crash mid-cleanup): it comes back on the same branch.
    await rm(wt.root, { recursive: true, force: true });
    const back = await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "t-abc123" });
    expect(back).toMatchObject({ root: wt.root, branch: wt.branch, baseCommit: wt.baseCommit });
    expect(await readFile(join(back.root, "notes.md"), "utf8")).toBe("hello\n");
  });

  it("gives two concurrent opens of one task one worktree, in one process or as if from two", async () => {
    await using dir = await tempDir();
    const source = await openSourceRepo({ stateDir: join(dir.path, "state"), demoSourceDir: JOBS_DIR });
    const opts = { workspaceDir: join(dir.path, "ws"), taskId: "t-abc123" };
    // A different lock key stands in for a second process: only git's own locking separates the two.
    const other = { ...source, gitCommonDir: `${source.gitCommonDir}/` };
    const opened = await Promise.all([
      openTaskWorktree(source, opts),
      openTaskWorktree(source, opts),
      openTaskWorktree(other, opts),
    ]);
    expect(new Set(opened.map((w) => `${w.root} ${w.branch} ${w.baseCommit}`)).size).toBe(1);
    const list = await git(source.dir, "worktree", "list", "--porcelain");
    expect(list.match(/branch refs\/heads\/mllead\/t-abc123/g)).toHaveLength(1);
  });

  it("moves a directory a crash left at the worktree's path aside instead of deleting it", async () => {
    await using dir = await tempDir();
    const source = await openSourceRepo({ stateDir: join(dir.path, "state"), demoSourceDir: JOBS_DIR });
    await mkdir(join(dir.path, "ws", "t-abc123"), { recursive: true });
    await writeFile(join(dir.path, "ws", "t-abc123", "half.txt"), "left over\n");
    const wt = await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "t-abc123" });
    expect(existsSync(join(wt.root, "jobs", "train.py"))).toBe(true);
    const aside = (await readdir(join(dir.path, "ws"))).find((n) => n.startsWith("t-abc123.orphan-")) ?? "";
    expect(await readFile(join(dir.path, "ws", aside, "half.txt"), "utf8")).toBe("left over\n");
  });

  it("refuses a task id that is not safe as a path or a branch", async () => {
    await using dir = await tempDir();
    const source = await openSourceRepo({ stateDir: join(dir.path, "state"), demoSourceDir: JOBS_DIR });
    await expect(openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "../t1" })).rejects.toMatchObject({
      code: "invalid_task_id",
    });
  });
});

describe("commitStep", () => {
  it("makes one commit per step with the task, step and attempt trailers, as mllead", async () => {
    await using dir = await tempDir();
    const { wt } = await demoTask(dir.path);
    await mkdir(join(wt.root, "pipeline"));
    await writeFile(join(wt.root, "pipeline", "prepare_data.py"), "print('prep')\n");
    const first = await commitStep(wt, step("prep"));
    await writeFile(join(wt.root, "jobs", "train.py"), "print('better training')\n");
    const second = await commitStep(wt, { ...step("train"), role: "ml-engineer", title: "Train a baseline" });

    expect(first.commit).toMatchObject({ files: ["pipeline/prepare_data.py"], reused: false });
    expect(second.commit?.files).toEqual(["jobs/train.py"]);
    const body = await git(wt.root, "log", "-1", "--format=%B", second.commit?.sha ?? "");
    expect(body).toContain("mllead(ml-engineer): Train a baseline");
    expect(body).toContain("Mllead-Task: t-abc123\nMllead-Step: train\nMllead-Attempt: 1");
    expect(await git(wt.root, "log", "-1", "--format=%an <%ae>|%cn")).toBe("mllead <mllead@users.noreply.local>|mllead");
    expect(await listTaskCommits(wt)).toEqual([
      { sha: first.commit?.sha, subject: "mllead(data-engineer): Work on prep", taskId: "t-abc123", stepId: "prep", attempt: 1 },
      {
        sha: second.commit?.sha,
        subject: "mllead(ml-engineer): Train a baseline",
        taskId: "t-abc123",
        stepId: "train",
        attempt: 1,
      },
    ]);
  });

  it("returns the same commit to a step resumed after a crash, and null when nothing changed", async () => {
    await using dir = await tempDir();
    const { wt } = await demoTask(dir.path);
    await writeFile(join(wt.root, "a.txt"), "a\n");
    const made = await commitStep(wt, step("prep"));
    const resumed = await commitStep(wt, step("prep"));
    expect(resumed.commit).toMatchObject({ sha: made.commit?.sha, files: ["a.txt"], reused: true });
    expect(await listTaskCommits(wt)).toHaveLength(1);
    expect(await commitStep(wt, step("train"))).toEqual({ commit: null, uncommitted: [], tampered: [] });
    // A new attempt of the step is new work, not the old commit.
    expect((await commitStep(wt, step("prep", 2))).commit).toBeNull();
  });

  it("commits one step at a time when two steps of a task finish at once", async () => {
    await using dir = await tempDir();
    const { wt } = await demoTask(dir.path);
    await writeFile(join(wt.root, "a.txt"), "a\n");
    await writeFile(join(wt.root, "b.txt"), "b\n");
    const results = await Promise.all([commitStep(wt, step("a")), commitStep(wt, step("b"))]);
    expect(results.filter((r) => r.commit !== null)).toHaveLength(1);
    expect(await git(wt.root, "status", "--porcelain")).toBe("");
  });

  it("leaves ignored files and files over the size limit out, and reports the big ones", async () => {
    await using dir = await tempDir();
    const { wt } = await demoTask(dir.path);
    await mkdir(join(wt.root, "data"));
    await writeFile(join(wt.root, "data", "train.csv"), "a,b\n1,2\n");
    await mkdir(join(wt.root, "jobs", "__pycache__"));
    await writeFile(join(wt.root, "jobs", "__pycache__", "train.cpython-311.pyc"), "x");
    await writeFile(join(wt.root, "big.csv"), "x".repeat(2000));
    await writeFile(join(wt.root, "report.md"), "# Report\n");

    const r = await commitStep(wt, step("prep"), { maxFileBytes: 1000 });
    expect(r.commit?.files).toEqual(["report.md"]);
    expect(r.uncommitted).toEqual([{ path: "big.csv", reason: "too_large", bytes: 2000 }]);
    expect(await git(wt.root, "status", "--porcelain")).toBe("?? big.csv");
  });

  it("does not run the team repository's hooks on mllead's commits", async () => {
    await using dir = await tempDir();
    const repo = await teamRepo(dir.path);
    const hook = join(repo, ".git", "hooks", "pre-commit");
    await writeFile(hook, `#!/bin/sh\ntouch "${join(dir.path, "hook-ran")}"\nexit 1\n`);
    await chmod(hook, 0o755);
    const source = await openSourceRepo({ repo, stateDir: join(dir.path, "state"), demoSourceDir: JOBS_DIR });
    const wt = await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: "t-abc123" });
    await writeFile(join(wt.root, "a.txt"), "a\n");
    expect((await commitStep(wt, step("prep"))).commit).not.toBeNull();
    expect(existsSync(join(dir.path, "hook-ran"))).toBe(false);
  });
});

describe("diffs and pushes", () => {
  it("shows the reviewer the task's changes since its base, bounded in size", async () => {
    await using dir = await tempDir();
    const { wt } = await demoTask(dir.path);
    await writeFile(join(wt.root, "jobs", "train.py"), "print('rewritten')\n");
    await commitStep(wt, step("train"));
    await writeFile(join(wt.root, "notes.md"), "uncommitted idea\n");

    const all = await diffFromBase(wt);
    expect(all.truncated).toBe(false);
    expect(all.files).toEqual([
      { status: "M", path: "jobs/train.py" },
      { status: "A", path: "notes.md" },
    ]);
    expect(all.diff).toContain("+print('rewritten')");
    expect(all.diff).toContain("+uncommitted idea");
    const committed = await diffFromBase(wt, { to: "head" });
    expect(committed.files.map((f) => f.path)).toEqual(["jobs/train.py"]);
    expect((await changedFilesSinceBase(wt)).map((f) => f.path)).toEqual(["jobs/train.py", "notes.md"]);
    // The worktree's own index is untouched: notes.md is still untracked.
    expect(await git(wt.root, "status", "--porcelain")).toBe("?? notes.md");

    const small = await diffFromBase(wt, { maxBytes: 300 });
    expect(small.truncated).toBe(true);
    expect(Buffer.byteLength(small.diff)).toBeLessThan(300 + 120);
    expect(small.diff).toMatch(/\[diff truncated at \d+ bytes; 2 files changed in all, see the file list\]\n$/);
  });

  it("pushes the branch with its commits to a bare repository, and fails clearly on a bad remote", async () => {
    await using dir = await tempDir();
    const { wt } = await demoTask(dir.path);
    await writeFile(join(wt.root, "a.txt"), "a\n");
    const { commit } = await commitStep(wt, step("prep"));
    const bare = join(dir.path, "remote.git");
    await mkdir(bare);
    await git(bare, "init", "--quiet", "--bare");

    const pushed = await pushBranch(wt, bare);
    expect(pushed).toEqual({ remote: bare, ref: "refs/heads/mllead/t-abc123", sha: commit?.sha });
    expect(await git(bare, "rev-parse", "refs/heads/mllead/t-abc123")).toBe(commit?.sha);
    expect(await git(bare, "log", "--format=%s", "mllead/t-abc123")).toContain("mllead(data-engineer): Work on prep");

    await expect(pushBranch(wt, join(dir.path, "no-such-remote"))).rejects.toMatchObject({
      name: "GitPushError",
      code: "git_push_failed",
      message: expect.stringContaining("pushing mllead/t-abc123 to"),
    });
  });
});

import { existsSync } from "node:fs";
import { lstat, mkdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { openSourceRepo, type SourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import { commitStep, listTaskCommits } from "../../services/specialist-agent/src/task-branch.js";
import { diffFromBase } from "../../services/specialist-agent/src/task-diff.js";
import { openTaskWorktree, type TaskWorktree } from "../../services/specialist-agent/src/task-worktree.js";
import { git, plantFilterAttack, refsOf, teamRepo, tempDir } from "../helpers/git-repos.js";

const JOBS_DIR = fileURLToPath(new URL("../../jobs", import.meta.url));
const TASK = "t-abc123";
const step = (stepId: string, attempt = 1) =>
  ({ taskId: TASK, stepId, role: "data-engineer", attempt, title: `Work on ${stepId}` }) as const;

/** The team's repository (a local path) and a task worktree made from it. */
async function teamTask(dir: string): Promise<{ repo: string; source: SourceRepo; wt: TaskWorktree }> {
  const repo = await teamRepo(dir);
  const source = await openSourceRepo({ repo, stateDir: join(dir, "state"), demoSourceDir: JOBS_DIR });
  const wt = await openTaskWorktree(source, { workspaceDir: join(dir, "ws"), taskId: TASK });
  return { repo, source, wt };
}

/** Only the task's own branch may differ between two `refsOf` listings. */
function otherRefs(refs: string[]): string[] {
  return refs.filter((r) => !r.startsWith(`refs/heads/mllead/${TASK} `));
}

describe("git a step cannot steer: commits", () => {
  it.each(["file", "dir"] as const)(
    "runs no filter from a git dir the step pointed .git at (%s) and commits on the task's branch only",
    async (how) => {
      await using dir = await tempDir();
      const { repo, wt } = await teamTask(dir.path);
      const before = await refsOf(join(repo, ".git"));
      const marker = join(dir.path, "filter-ran");
      await writeFile(join(wt.root, "clean.py"), "print('features')\n");
      await plantFilterAttack(wt.root, marker, how);

      const done = await commitStep(wt, step("prep"));

      expect(existsSync(marker)).toBe(false);
      expect(done.tampered.join("\n")).toMatch(/\.git/);
      expect(done.commit?.files).toEqual(expect.arrayContaining(["clean.py", ".gitattributes"]));
      expect(await git(repo, "show", `refs/heads/mllead/${TASK}:clean.py`)).toBe("print('features')");
      expect(otherRefs(await refsOf(join(repo, ".git")))).toEqual(otherRefs(before));
      // What the service owns is put back: the worktree's .git names its real git dir again.
      expect(await readFile(join(wt.root, ".git"), "utf8")).toBe(`gitdir: ${wt.gitDir}\n`);
      expect(await git(wt.root, "status", "--porcelain")).not.toContain("clean.py");
    },
  );

  it("commits onto mllead/<task> only when the worktree's HEAD was pointed at the team's main", async () => {
    await using dir = await tempDir();
    const { repo, wt } = await teamTask(dir.path);
    const before = await refsOf(join(repo, ".git"));
    await writeFile(join(wt.gitDir, "HEAD"), "ref: refs/heads/main\n");
    await writeFile(join(wt.root, "evil.py"), "print('on main')\n");

    const done = await commitStep(wt, step("prep"));

    expect(otherRefs(await refsOf(join(repo, ".git")))).toEqual(otherRefs(before));
    expect(await git(repo, "rev-parse", `refs/heads/mllead/${TASK}`)).toBe(done.commit?.sha);
    expect(done.tampered.join("\n")).toMatch(/HEAD/);
    expect(await readFile(join(wt.gitDir, "HEAD"), "utf8")).toBe(`ref: refs/heads/mllead/${TASK}\n`);
  });

  it("commits nothing into the team's checkout when .git was pointed at it", async () => {
    await using dir = await tempDir();
    const { repo, wt } = await teamTask(dir.path);
    const before = await refsOf(join(repo, ".git"));
    const status = await git(repo, "status", "--porcelain");
    await writeFile(join(wt.root, ".git"), `gitdir: ${join(repo, ".git")}\n`);
    await writeFile(join(wt.root, "model.py"), "print('model')\n");

    const done = await commitStep(wt, step("prep"));

    expect(otherRefs(await refsOf(join(repo, ".git")))).toEqual(otherRefs(before));
    expect(await git(repo, "status", "--porcelain")).toBe(status);
    expect(done.commit?.files).toEqual(["model.py"]);
  });

  it("puts back a task branch moved behind the service's back, says so, and commits on where it left it", async () => {
    await using dir = await tempDir();
    const { repo, wt } = await teamTask(dir.path);
    await writeFile(join(wt.root, "a.txt"), "a\n");
    const first = await commitStep(wt, step("a"));
    // A forged commit on the task's branch, as a step with write access to refs could make one.
    const main = await git(repo, "rev-parse", "main");
    await git(repo, "update-ref", `refs/heads/mllead/${TASK}`, main);
    await writeFile(join(wt.root, "b.txt"), "b\n");

    const second = await commitStep(wt, step("b"));

    expect(second.tampered.join("\n")).toMatch(/branch .* moved/);
    expect(await git(repo, "rev-parse", `refs/heads/mllead/${TASK}^`)).toBe(first.commit?.sha);
    expect((await listTaskCommits(wt)).map((c) => c.stepId)).toEqual(["a", "b"]);
  });

  it("two processes committing one worktree at once make one commit, and neither takes the other's for tampering", async () => {
    await using dir = await tempDir();
    const { repo, wt } = await teamTask(dir.path);
    // Another root spelling is another lock key: as if a second process committed (only git's CAS separates them).
    const other = { ...wt, root: `${wt.root}/` };
    await writeFile(join(wt.root, "a.txt"), "a\n");
    await writeFile(join(wt.root, "b.txt"), "b\n");

    const [a, b] = await Promise.all([commitStep(wt, step("a")), commitStep(other, step("b"))]);

    expect([a, b].filter((r) => r.commit !== null)).toHaveLength(1);
    expect([...a.tampered, ...b.tampered]).toEqual([]);
    const files = await git(repo, "ls-tree", "--name-only", `refs/heads/mllead/${TASK}`);
    expect(files.split("\n")).toEqual(expect.arrayContaining(["a.txt", "b.txt"]));
    // A commit of the service the record does not know yet (a crash before recording it) is taken as its own.
    await writeFile(join(wt.gitDir, "mllead-head.json"), `${JSON.stringify({ head: wt.baseCommit })}\n`);
    await writeFile(join(wt.root, "c.txt"), "c\n");
    expect((await commitStep(wt, step("c"))).tampered).toEqual([]);
    expect((await listTaskCommits(wt)).map((c) => c.stepId).sort()).toEqual([a.commit ? "a" : "b", "c"].sort());
  });

  it("reports no tampering when there was none, also where the state and workspace dirs are reached through links", async () => {
    await using dir = await tempDir();
    const repo = await teamRepo(dir.path);
    await git(repo, "checkout", "--quiet", "main");
    await mkdir(join(dir.path, "real"));
    await symlink(join(dir.path, "real"), join(dir.path, "linked"));
    const source = await openSourceRepo({
      repo: `file://${repo}`,
      stateDir: join(dir.path, "linked", "state"),
      demoSourceDir: JOBS_DIR,
    });
    const wt = await openTaskWorktree(source, { workspaceDir: join(dir.path, "linked", "ws"), taskId: TASK });
    await writeFile(join(wt.root, "a.txt"), "a\n");
    expect((await commitStep(wt, step("a"))).tampered).toEqual([]);
    await writeFile(join(wt.root, "b.txt"), "b\n");
    expect((await commitStep(wt, step("b"))).tampered).toEqual([]);
  });

  it("leaves a bare git dir a step built in the worktree uncommitted, like a nested repository", async () => {
    await using dir = await tempDir();
    const { wt } = await teamTask(dir.path);
    await git(wt.root, "init", "--quiet", "--bare", "evil.git");
    await writeFile(join(wt.root, "model.py"), "print('model')\n");

    const done = await commitStep(wt, step("prep"));

    expect(done.commit?.files).toEqual(["model.py"]);
    expect(done.uncommitted).toEqual([{ path: "evil.git/", reason: "nested_repo" }]);
  });

  it("leaves out a file tool's temporary file that a crash left between its write and its rename", async () => {
    await using dir = await tempDir();
    const { wt } = await teamTask(dir.path);
    await mkdir(join(wt.root, "training"), { recursive: true });
    await writeFile(join(wt.root, "training", ".train.py.0123456789ab.mllead-tmp"), "half a file");
    await writeFile(join(wt.root, "training", "train.py"), "print('train')\n");

    const done = await commitStep(wt, step("train"));

    expect(done.commit?.files).toEqual(["training/train.py"]);
  });

  it("commits a symlink as a link, never what it points at, and does not walk into a linked directory", async () => {
    await using dir = await tempDir();
    const { repo, wt } = await teamTask(dir.path);
    const outside = join(dir.path, "host-secrets");
    await mkdir(outside);
    await writeFile(join(outside, "key.pem"), "PRIVATE\n");
    await symlink(join(outside, "key.pem"), join(wt.root, "key.pem"));
    await symlink(outside, join(wt.root, "linked"));
    // A tracked file replaced by a link to a host file.
    await rm(join(wt.root, "train.py"));
    await symlink(join(outside, "key.pem"), join(wt.root, "train.py"));

    const done = await commitStep(wt, step("prep"));

    expect(done.commit?.files.sort()).toEqual(["key.pem", "linked", "train.py"]);
    const tree = await git(repo, "ls-tree", "-r", `refs/heads/mllead/${TASK}`);
    expect(tree).toMatch(/^120000 blob \w+\tkey\.pem$/m);
    expect(tree).toMatch(/^120000 blob \w+\tlinked$/m);
    expect(tree).toMatch(/^120000 blob \w+\ttrain\.py$/m);
    expect(await git(repo, "show", `refs/heads/mllead/${TASK}:key.pem`)).toBe(join(outside, "key.pem"));
    expect(await readlink(join(wt.root, "linked"))).toBe(outside);
  });

  it("keeps a resumed attempt's commit and the worktree's index in step with the branch", async () => {
    await using dir = await tempDir();
    const { wt } = await teamTask(dir.path);
    await writeFile(join(wt.root, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
    await mkdir(join(wt.root, "data"));
    await writeFile(join(wt.root, "data", "big.csv"), "ignored\n");
    const made = await commitStep(wt, step("prep"));
    expect(await git(wt.root, "ls-tree", made.commit?.sha ?? "", "run.sh")).toMatch(/^100755 /);
    expect(await git(wt.root, "status", "--porcelain")).toBe("");
    const resumed = await commitStep(wt, step("prep"));
    expect(resumed.commit).toMatchObject({ sha: made.commit?.sha, reused: true });
    expect(resumed.tampered).toEqual([]);
  });
});

describe("git a step cannot steer: worktrees and diffs", () => {
  it("repairs a worktree whose .git a step deleted in place, keeping uncommitted work", async () => {
    await using dir = await tempDir();
    const { source, wt } = await teamTask(dir.path);
    await writeFile(join(wt.root, "wip.py"), "print('unfinished')\n");
    await rm(join(wt.root, ".git"));

    const again = await openTaskWorktree(source, { workspaceDir: join(dir.path, "ws"), taskId: TASK });

    expect(again).toEqual(wt);
    expect(await readFile(join(wt.root, "wip.py"), "utf8")).toBe("print('unfinished')\n");
    expect((await lstat(join(wt.root, ".git"))).isFile()).toBe(true);
  });

  it("shows the reviewer the step's changes without running a filter or textconv the step named", async () => {
    await using dir = await tempDir();
    const { wt } = await teamTask(dir.path);
    const marker = join(dir.path, "filter-ran");
    await writeFile(join(wt.root, "train.py"), "print('rewritten')\n");
    await writeFile(join(wt.root, "notes.md"), "idea\n");
    await plantFilterAttack(wt.root, marker, "file");

    const d = await diffFromBase(wt);

    expect(existsSync(marker)).toBe(false);
    expect(d.files).toEqual([
      { status: "A", path: ".gitattributes" },
      { status: "A", path: "notes.md" },
      { status: "M", path: "train.py" },
    ]);
    expect(d.diff).toContain("+print('rewritten')");
  });
});

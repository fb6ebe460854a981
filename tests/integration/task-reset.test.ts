import { existsSync } from "node:fs";
import { lstat, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { openSourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import { commitStep } from "../../services/specialist-agent/src/task-branch.js";
import { captureLeftovers, discardStepChanges } from "../../services/specialist-agent/src/task-reset.js";
import { openTaskWorktree } from "../../services/specialist-agent/src/task-worktree.js";
import { moveBranch } from "../../services/specialist-agent/src/worktree-guard.js";
import { git, teamRepo, tempDir } from "../helpers/git-repos.js";

const JOBS_DIR = fileURLToPath(new URL("../../jobs", import.meta.url));
const TASK = "t-rev1";
const BIG = 6 * 1024 * 1024;

async function reviewedTask(dir: string) {
  const repo = await teamRepo(dir);
  const source = await openSourceRepo({ repo, stateDir: join(dir, "state"), demoSourceDir: JOBS_DIR });
  const wt = await openTaskWorktree(source, { workspaceDir: join(dir, "ws"), taskId: TASK });
  // What earlier steps left: a committed script, ignored outputs, a file too large to commit.
  await mkdir(join(wt.root, "jobs"));
  await writeFile(join(wt.root, "jobs", "run.py"), "print('run')\n");
  await mkdir(join(wt.root, "data"));
  await writeFile(join(wt.root, "data", "raw.csv"), "x\n1\n");
  await writeFile(join(wt.root, "big.bin"), Buffer.alloc(BIG, 1));
  await commitStep(wt, { taskId: TASK, stepId: "prep", role: "data-engineer", attempt: 1, title: "Prep" });
  return { repo, wt };
}

describe("discarding what a step that must change nothing changed", () => {
  it("puts tracked files back, removes new ones, never follows a planted link, keeps ignored outputs and earlier leftovers", async () => {
    await using dir = await tempDir();
    const { repo, wt } = await reviewedTask(dir.path);
    const head = await git(repo, "rev-parse", `refs/heads/mllead/${TASK}`);
    const leftovers = await captureLeftovers(wt);
    const outside = join(dir.path, "host");
    await mkdir(outside);
    await writeFile(join(outside, "run.py"), "host file\n");

    // The reviewer's commands: an edit, a new file, a deleted ignore file, a directory swapped for a link to the
    // host, a nested repository, a new large file.
    await writeFile(join(wt.root, "train.py"), "print('patched')\n");
    await writeFile(join(wt.root, "backdoor.py"), "import os\n");
    await rm(join(wt.root, ".gitignore"));
    await rm(join(wt.root, "jobs"), { recursive: true });
    await symlink(outside, join(wt.root, "jobs"));
    await mkdir(join(wt.root, "vendor"));
    await git(join(wt.root, "vendor"), "init", "--quiet");
    await writeFile(join(wt.root, "new.bin"), Buffer.alloc(BIG, 2));

    const done = await discardStepChanges(wt, leftovers);

    expect(done.head).toBe(head);
    expect(done.discarded).toEqual([".gitignore", "backdoor.py", "jobs/run.py", "new.bin", "train.py", "vendor/"]);
    expect(await readFile(join(outside, "run.py"), "utf8")).toBe("host file\n");
    expect((await lstat(join(wt.root, "jobs"))).isDirectory()).toBe(true);
    expect(await readFile(join(wt.root, "jobs", "run.py"), "utf8")).toBe("print('run')\n");
    expect(await readFile(join(wt.root, "train.py"), "utf8")).toBe("print('train')\n");
    expect(await readFile(join(wt.root, ".gitignore"), "utf8")).toBe("data/\n");
    for (const gone of ["backdoor.py", "vendor", "new.bin"]) expect(existsSync(join(wt.root, gone)), gone).toBe(false);
    expect(await readFile(join(wt.root, "data", "raw.csv"), "utf8")).toBe("x\n1\n");
    expect((await lstat(join(wt.root, "big.bin"))).size).toBe(BIG);
    expect(await git(repo, "rev-parse", `refs/heads/mllead/${TASK}`)).toBe(head);
    expect(await git(wt.root, "status", "--porcelain")).toBe("?? big.bin");
  });

  it("moves the task's branch only from where it is expected to be", async () => {
    await using dir = await tempDir();
    const { repo, wt } = await reviewedTask(dir.path);
    const head = await git(repo, "rev-parse", `refs/heads/mllead/${TASK}`);
    await expect(moveBranch(wt, wt.baseCommit, wt.baseCommit, "test")).rejects.toMatchObject({
      stderr: expect.stringContaining("but expected"),
    });
    expect(await git(repo, "rev-parse", `refs/heads/mllead/${TASK}`)).toBe(head);
  });
});

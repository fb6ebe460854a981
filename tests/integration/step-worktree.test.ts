import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { openSourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import { openStepWorktree, removeStepWorktree, stepBranch } from "../../services/specialist-agent/src/step-worktree.js";
import { git, tempDir } from "../helpers/git-repos.js";

const log = createLogger("test", "silent");
const JOBS = join(import.meta.dirname, "..", "..", "jobs");

async function demo(dir: string) {
  const source = await openSourceRepo({ stateDir: join(dir, "state"), demoSourceDir: JOBS });
  const base = await git(source.dir, "rev-parse", "HEAD");
  return { source, start: { base, head: base }, where: { workspaceDir: join(dir, "ws"), taskId: "t1" } };
}

describe("a step's own worktree", () => {
  it("is <workspace>/<task>/<step> on mllead-step/<task>/<step>, and opening it again (a redelivery) resumes it as left", async () => {
    await using dir = await tempDir();
    const { source, start, where } = await demo(dir.path);
    const a = await openStepWorktree(source, { ...where, stepId: "s1" }, start);
    expect(a.root.endsWith(join("ws", "t1", "s1"))).toBe(true);
    expect([a.branch, a.taskBranch, a.baseCommit]).toEqual([stepBranch("t1", "s1"), "mllead/t1", start.base]);
    await writeFile(join(a.root, "half-done.py"), "x = 1\n");
    // The step rewrote what links the worktree to the repository before the process died.
    await writeFile(join(a.root, ".git"), "gitdir: /tmp/elsewhere\n");
    await writeFile(join(a.gitDir, "HEAD"), "ref: refs/heads/main\n");

    const again = await openStepWorktree(source, { ...where, stepId: "s1" }, start);
    expect([again.root, again.gitDir]).toEqual([a.root, a.gitDir]);
    expect(await readFile(join(again.root, "half-done.py"), "utf8")).toBe("x = 1\n");
    expect(await readFile(join(again.root, ".git"), "utf8")).toBe(`gitdir: ${a.gitDir}\n`);
    expect(await readFile(join(again.gitDir, "HEAD"), "utf8")).toBe(`ref: refs/heads/${a.branch}\n`);
    // A parallel step of the same task gets its own worktree and branch.
    const b = await openStepWorktree(source, { ...where, stepId: "s2" }, start);
    expect(b.root).not.toBe(a.root);
    expect(existsSync(join(b.root, "half-done.py"))).toBe(false);
  });

  it("a directory the repository does not know is moved aside, never deleted", async () => {
    await using dir = await tempDir();
    const { source, start, where } = await demo(dir.path);
    await mkdir(join(where.workspaceDir, "t1", "s1"), { recursive: true });
    await writeFile(join(where.workspaceDir, "t1", "s1", "keep.txt"), "mine\n");
    const wt = await openStepWorktree(source, { ...where, stepId: "s1" }, start);
    expect(existsSync(join(wt.root, "keep.txt"))).toBe(false);
    expect(await git(source.dir, "rev-parse", `refs/heads/${wt.branch}`)).toBe(start.head);
    const orphan = (await readdir(join(where.workspaceDir, "t1"))).find((n) => n.startsWith("s1.orphan-"));
    expect(orphan && (await readFile(join(where.workspaceDir, "t1", orphan, "keep.txt"), "utf8"))).toBe("mine\n");
  });

  it("removing it takes the files, the repository's entry and the step branch, without following a planted link", async () => {
    await using dir = await tempDir();
    const { source, start, where } = await demo(dir.path);
    const outside = join(dir.path, "outside");
    await mkdir(outside);
    await writeFile(join(outside, "precious.txt"), "keep\n");
    const wt = await openStepWorktree(source, { ...where, stepId: "s1" }, start);
    await symlink(outside, join(wt.root, "link"));
    await removeStepWorktree(wt, log, where.workspaceDir);
    expect(existsSync(wt.root)).toBe(false);
    expect(existsSync(wt.gitDir)).toBe(false);
    expect(existsSync(join(where.workspaceDir, "t1"))).toBe(false);
    expect(await readFile(join(outside, "precious.txt"), "utf8")).toBe("keep\n");
    expect(await git(source.dir, "branch", "--list", "mllead-step/*")).toBe("");
    expect(await git(source.dir, "worktree", "list", "--porcelain")).not.toContain("t1/s1");
  });
});

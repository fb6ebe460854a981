/**
 * The offline brain (no key) pointed at a team's own repository (MLLEAD_REPO) with a push remote: the whole
 * stack runs the task, and the thread says plainly that it ran the shipped demo pipeline on synthetic data,
 * while the team's repository gets no new commit on any ref and nothing is pushed.
 */
import { execFileSync } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTeamRepo } from "../helpers/claude-team.js";
import { PROCESS_SANDBOX_ONLY } from "../helpers/sandbox-mode.js";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf, postKey, visibleText } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

/** Every ref of a repository and the commit it names (`git for-each-ref`). */
function refs(gitDir: string): Map<string, string> {
  const out = execFileSync("git", ["--git-dir", gitDir, "for-each-ref", "--format=%(refname) %(objectname)"]).toString();
  return new Map(
    out
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ") as [string, string]),
  );
}

/** A PNG's size and its `Software` text chunk. */
function pngInfo(png: Buffer): { width: number; height: number; software?: string } {
  const info: { width: number; height: number; software?: string } = {
    width: png.readUInt32BE(16),
    height: png.readUInt32BE(20),
  };
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const body = png.subarray(at + 8, at + 8 + length);
    if (png.subarray(at + 4, at + 8).toString("latin1") === "tEXt" && body.subarray(0, 9).toString("latin1") === "Software\0") {
      info.software = body.subarray(9).toString("latin1");
    }
    at += 12 + length;
  }
  return info;
}

/** Whether the python3 that sandboxed commands use (the system's, under bubblewrap) can import matplotlib. */
function sandboxHasMatplotlib(): boolean {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import matplotlib"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("the offline brain on a team's repository", () => {
  it("says the work is the shipped demo on synthetic data, commits nothing and pushes nothing", {
    timeout: 300_000,
  }, async () => {
    const team = await makeTeamRepo();
    const gitDir = join(team.repo, ".git");
    const before = refs(gitDir);
    try {
      await using stack = await startStack({ MLLEAD_REPO: team.repo, MLLEAD_PUSH_REMOTE: team.remote });
      const { sandbox } = stack;
      const sent = await sandbox.mention("train a baseline on the churn table");
      const thread = () => botMessages(sandbox.thread(sandbox.defaultChannel, sent.ts));
      const find = (kind: string) => thread().find((m) => kindOf(m) === kind);

      await waitFor(() => find("task.planned") !== undefined, 60_000, "the plan");
      const plan = find("task.planned");
      if (!plan) throw new Error("no plan");
      expect(visibleText(plan)).toMatch(/shipped demo pipeline[^"]*synthetic/);
      expect((await sandbox.click(plan.ts, "mllead_approve")).status).toBe(200);
      await waitFor(() => find("task.completed") !== undefined || find("task.failed") !== undefined, 240_000, "the end");
      const summary = find("task.completed");
      expect(summary, thread().map(visibleText).join("\n---\n").slice(-3000)).toBeDefined();

      // The thread: every worker's result warns that its metrics are synthetic and that nothing was committed;
      // the summary says both.
      const steps = thread().filter((m) => kindOf(m) === "step.completed");
      for (const id of ["data", "train", "analyze"]) {
        const step = steps.find((m) => postKey(m).includes(`:${id}:`));
        expect(step && visibleText(step), id).toContain(
          "metrics from the shipped demo pipeline on synthetic data, not your data",
        );
        expect(step && visibleText(step), id).toContain("not committed: offline demo");
        expect(step && visibleText(step), id).toContain("MLLEAD_OFFLINE_COMMIT=1");
      }
      const closing = visibleText(summary as NonNullable<typeof summary>);
      expect(closing).toContain("synthetic demo data, not your data");
      expect(closing).toContain("not committed: offline demo");

      // The team's repository: no ref names a commit it did not have (the task's branch sits on the base), and
      // the push remote has no ref at all.
      const after = refs(gitDir);
      const known = new Set(before.values());
      for (const [ref, sha] of after) expect(known.has(sha), `${ref} → ${sha}`).toBe(true);
      expect([...after.keys()].some((r) => r.startsWith("refs/heads/mllead/"))).toBe(true);
      expect(refs(team.remote).size).toBe(0);

      // The work is in the task's worktree, uncommitted: the plot among it, 640×400, drawn by matplotlib where
      // the sandbox's python3 has it (under bubblewrap that is the system's), else by the fallback — and the
      // report says which.
      const workspaces = stack.env.MLLEAD_WORKSPACE_DIR as string;
      const [task] = (await readdir(workspaces)).filter((d) => !d.startsWith("."));
      if (!task) throw new Error(`no task worktree in ${workspaces}`);
      const taskDir = join(workspaces, task);
      const png = pngInfo(await readFile(join(taskDir, "reports", "loss.png")));
      expect([png.width, png.height]).toEqual([640, 400]);
      const report = await readFile(join(taskDir, "reports", "report.md"), "utf8");
      if (!PROCESS_SANDBOX_ONLY && sandboxHasMatplotlib()) {
        expect(png.software).toMatch(/^matplotlib \d/);
        expect(report).toContain("drawn with matplotlib");
      } else {
        expect(png.software).toMatch(/fallback renderer/);
        expect(report).toContain("fallback renderer");
      }
      const status = execFileSync("git", ["status", "--porcelain"], { cwd: taskDir }).toString();
      expect(status).toContain("jobs/");
    } finally {
      await rm(join(team.repo, ".."), { recursive: true, force: true });
    }
  });
});

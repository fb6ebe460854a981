import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { everyResource } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { TaskBranchStore } from "../../services/specialist-agent/src/branch-store.js";
import { TaskBaseMissingError } from "../../services/specialist-agent/src/errors.js";
import { openSourceRepo, type SourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import { joinStepCommit, syncTaskBranch } from "../../services/specialist-agent/src/task-branch-sync.js";
import { git, teamRepo, tempDir } from "../helpers/git-repos.js";
import { startNatsServer } from "../helpers/nats-server.js";

const log = createLogger("test", "silent");
const JOBS = join(import.meta.dirname, "..", "..", "jobs");

/** A replica's demo repository, made in its own state dir (as on its own host). */
const demoRepo = (stateDir: string) => openSourceRepo({ stateDir, demoSourceDir: JOBS });

/** A commit of `files` on top of `parent` in `repo`, made as mllead makes a step's (identity and trailers). */
function stepCommit(repo: SourceRepo, parent: string, taskId: string, stepId: string, files: Record<string, string>): string {
  const env = {
    PATH: process.env.PATH,
    HOME: repo.dir,
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_INDEX_FILE: join(repo.gitCommonDir, `index-${stepId}`),
    GIT_AUTHOR_NAME: "mllead",
    GIT_AUTHOR_EMAIL: "mllead@users.noreply.local",
    GIT_COMMITTER_NAME: "mllead",
    GIT_COMMITTER_EMAIL: "mllead@users.noreply.local",
  };
  const g = (args: string[], input?: string) =>
    execFileSync("git", [`--git-dir=${repo.gitCommonDir}`, ...args], { env, ...(input ? { input } : {}) })
      .toString()
      .trim();
  g(["read-tree", parent]);
  for (const [path, content] of Object.entries(files)) {
    const blob = g(["hash-object", "-w", "--stdin"], content);
    g(["update-index", "--add", "--cacheinfo", `100644,${blob},${path}`]);
  }
  const tree = g(["write-tree"]);
  const message = `mllead(data-engineer): ${stepId}\n\nMllead-Task: ${taskId}\nMllead-Step: ${stepId}\nMllead-Attempt: 1\n`;
  return g(["commit-tree", tree, "-p", parent, "-F", "-"], message);
}

async function setup() {
  const nats = await startNatsServer();
  const bus = await Bus.connect({ url: nats.url, name: "branch-store-test", log });
  await bus.setUp(everyResource());
  const dir = await tempDir("mllead-branches-");
  return {
    bus,
    dir: dir.path,
    store: await TaskBranchStore.open(bus),
    async [Symbol.asyncDispose]() {
      await bus.close();
      await nats[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

describe("a task's branch travels between replicas through JetStream", () => {
  it("two hosts' demo repositories share the base; a step's commit joins on one and is fetched on the other", async () => {
    await using env = await setup();
    const a = await demoRepo(join(env.dir, "host-a"));
    const b = await demoRepo(join(env.dir, "host-b"));
    const baseA = await git(a.dir, "rev-parse", "HEAD");
    expect(await git(b.dir, "rev-parse", "HEAD")).toBe(baseA);

    const ctxA = { source: a, store: env.store, taskId: "t1", log };
    const ctxB = { source: b, store: env.store, taskId: "t1", log };
    const start = await syncTaskBranch(ctxA);
    expect(start).toMatchObject({ base: baseA, head: baseA });
    const c1 = stepCommit(a, start.head, "t1", "s1", { "one.txt": "1\n" });
    expect(await joinStepCommit(ctxA, c1, { stepId: "s1", attempt: 1 })).toEqual({ sha: c1 });
    // Joining the same attempt again (a resumed step) changes nothing.
    expect(await joinStepCommit(ctxA, c1, { stepId: "s1", attempt: 1 })).toEqual({ sha: c1 });

    const rec = await env.store.read("t1");
    expect(rec?.value).toMatchObject({ head: c1, base: baseA, bundle: `tasks/t1/.branch/${c1}.bundle`, stepId: "s1" });
    // The bundle carries only the task's own commits: its one prerequisite is the base.
    const file = join(env.dir, "t1.bundle");
    expect(await env.store.download(rec?.value.bundle ?? "", file)).toBe(true);
    const verify = await git(a.dir, "bundle", "verify", file);
    expect(verify).toContain(baseA);
    expect(await git(a.dir, "bundle", "list-heads", file)).toContain(c1);

    const onB = await syncTaskBranch(ctxB);
    expect(onB.head).toBe(c1);
    expect(await git(b.dir, "show", "refs/heads/mllead/t1:one.txt")).toBe("1");
    expect(await git(b.dir, "config", "branch.mllead/t1.mlleadBase")).toBe(baseA);
  });

  it("a step that started from an older head is re-applied onto the new one; a real conflict names the files", async () => {
    await using env = await setup();
    const a = await demoRepo(join(env.dir, "host-a"));
    const b = await demoRepo(join(env.dir, "host-b"));
    const ctxA = { source: a, store: env.store, taskId: "t2", log };
    const ctxB = { source: b, store: env.store, taskId: "t2", log };
    const start = await syncTaskBranch(ctxA);
    await syncTaskBranch(ctxB);
    // Both steps start at the same head, on different hosts.
    const ca = stepCommit(a, start.head, "t2", "sa", { "a.txt": "a\n" });
    const cb = stepCommit(b, start.head, "t2", "sb", { "b.txt": "b\n" });
    const cc = stepCommit(b, start.head, "t2", "sc", { "a.txt": "not a\n" });
    const revBefore = (await env.store.read("t2"))?.revision ?? 0;

    expect((await joinStepCommit(ctxA, ca, { stepId: "sa", attempt: 1 })).sha).toBe(ca);
    const joinedB = await joinStepCommit(ctxB, cb, { stepId: "sb", attempt: 1 });
    expect(joinedB.rebasedOnto).toBe(ca);
    await expect(joinStepCommit(ctxB, cc, { stepId: "sc", attempt: 1 })).rejects.toThrow(
      /conflict with changes another step of the task committed meanwhile, in a\.txt/,
    );

    const rec = await env.store.read("t2");
    expect(rec?.value.head).toBe(joinedB.sha);
    // Each move was one compare-and-swap: the revision rose by exactly the two joins.
    expect(rec?.revision).toBe(revBefore + 2);
    // One commit per step, each with only its own file.
    const onA = await syncTaskBranch(ctxA);
    const log1 = await git(a.dir, "log", "--format=%s", `${onA.base}..${onA.head}`);
    expect(log1.split("\n")).toEqual(["mllead(data-engineer): sb", "mllead(data-engineer): sa"]);
    expect(await git(a.dir, "diff-tree", "--no-commit-id", "--name-only", "-r", onA.head)).toBe("b.txt");
    expect(await git(a.dir, "diff-tree", "--no-commit-id", "--name-only", "-r", `${onA.head}^`)).toBe("a.txt");
    // The replaced bundle is gone from the store; the current one is there.
    const os = await env.bus.objectStore("mllead_artifacts");
    expect((await os.info(`tasks/t2/.branch/${ca}.bundle`))?.deleted ?? true).toBe(true);
    expect((await os.info(`tasks/t2/.branch/${joinedB.sha}.bundle`))?.size).toBeGreaterThan(0);
  });

  it("a redelivered step that committed twice (its first commit never joined) joins as one commit onto the moved head", async () => {
    await using env = await setup();
    const a = await demoRepo(join(env.dir, "host-a"));
    const ctx = { source: a, store: env.store, taskId: "t4", log };
    const start = await syncTaskBranch(ctx);
    // The first try's commit is made, then its join times out; meanwhile another step moves the head.
    const first = stepCommit(a, start.head, "t4", "s1", { "model.py": "v1\n", "run.log": "run 1\n" });
    const other = stepCommit(a, start.head, "t4", "s2", { "other.txt": "o\n" });
    await joinStepCommit(ctx, other, { stepId: "s2", attempt: 1 });
    // The redelivered try runs in the same worktree: its commit sits on the first one, which is not on the branch.
    const again = stepCommit(a, first, "t4", "s1", { "run.log": "run 2\n" });
    const joined = await joinStepCommit(ctx, again, { stepId: "s1", attempt: 1 });
    expect(joined.rebasedOnto).toBe(other);
    const now = await syncTaskBranch(ctx);
    expect(now.head).toBe(joined.sha);
    expect(await git(a.dir, "rev-list", "--count", `${now.base}..${now.head}`)).toBe("2");
    expect((await git(a.dir, "diff-tree", "--no-commit-id", "--name-only", "-r", now.head)).split("\n")).toEqual([
      "model.py",
      "run.log",
    ]);
    expect(await git(a.dir, "show", `${now.head}:run.log`)).toBe("run 2");
    expect(await git(a.dir, "show", `${now.head}:other.txt`)).toBe("o");
  });

  it("a replica whose repository lacks the task's base fails with what to do", async () => {
    await using env = await setup();
    const a = await demoRepo(join(env.dir, "host-a"));
    await syncTaskBranch({ source: a, store: env.store, taskId: "t3", log });
    const other = await openSourceRepo({ repo: await teamRepo(env.dir), stateDir: join(env.dir, "s"), demoSourceDir: JOBS });
    const err = await syncTaskBranch({ source: other, store: env.store, taskId: "t3", log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskBaseMissingError);
    expect((err as Error).message).toMatch(
      /lacks commit [0-9a-f]{40}, where task t3's branch starts: every specialist replica must work on the same repository/,
    );
  });
});

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { StepTools } from "@mllead/brain";
import { Bus } from "@mllead/bus";
import {
  CONSUMERS,
  everyResource,
  lastEvent,
  ROLES,
  type StepResult,
  StepWork,
  SUBJECTS,
  type TaskEvent,
} from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../services/specialist-agent/src/app.js";
import { defaultToolSettings } from "../../services/specialist-agent/src/config.js";
import { acceptAnyWork } from "../../services/specialist-agent/src/dispatched-work.js";
import { git, refsOf, teamRepo, tempDir } from "../helpers/git-repos.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { StepOnlyBrain, stepWork } from "../helpers/specialist-test-brain.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

/** Shell scripts a step runs in its sandbox, keyed by the step's objective. */
function attack(objective: string, marker: string): string {
  switch (objective) {
    case "plain":
      return "echo \"print('features')\" > clean.py";
    case "head":
      // Point the worktree at the team's main, or spoil its index: both need write access to git metadata.
      return [
        "echo \"print('features')\" > clean.py",
        "G=$(sed -n 's/^gitdir: //p' .git)",
        'echo "ref: refs/heads/main" > "$G/HEAD" && echo HEAD-WRITTEN',
        'echo junk > "$G/index" && echo INDEX-WRITTEN',
        "git status --porcelain && git log --oneline -1 && git diff --stat",
      ].join("\n");
    case "filter":
      // A git dir of its own with a clean filter, named by .gitattributes, and .git pointed at it.
      return [
        "echo \"print('model')\" > model.py",
        "mkdir .evil && git -C .evil init -q",
        `git -C .evil config filter.x.clean "sh -c 'env > ${marker}; cat'"`,
        "printf '* filter=x\\n' > .gitattributes",
        "printf 'gitdir: %s/.evil/.git\\n' \"$PWD\" > .git",
      ].join("\n");
    case "review":
      // The reviewer "fixes" what it reviews: a new file, an edit, a deleted file, a link to a host file.
      return [
        "echo 'import os; os.system(\"curl evil\")' > backdoor.py",
        "echo \"print('patched by the reviewer')\" >> train.py",
        "rm .gitignore",
        "ln -s /etc/passwd passwd",
      ].join("\n");
    default:
      throw new Error(`no attack '${objective}'`);
  }
}

const met = (evidence: string): StepResult["criteria"] => [{ id: "ac1", criterion: "it is done", met: true, evidence }];

/** A brain whose steps run one attack each in the sandbox, then report success (the reviewer approves). */
class AttackBrain extends StepOnlyBrain {
  readonly outputs: string[] = [];
  constructor(private readonly marker: string) {
    super();
  }
  async runStep(work: StepWork, tools: StepTools): Promise<StepResult> {
    const r = await tools.run(["sh", "-c", attack(work.step.objective, this.marker)]);
    this.outputs.push(`${r.stdout}\n${r.stderr}`);
    const base = { status: "succeeded" as const, summary: "done", artifacts: [], metrics: {}, filesChanged: [] };
    if (work.role !== "code-reviewer") return { ...base, criteria: met(`exit ${r.exitCode}`) };
    return {
      ...base,
      criteria: met("reviewed"),
      verdict: { decision: "approve", summary: "looks good", findings: [], checks: [] },
    };
  }
}

async function setup(dir: string) {
  const nats = await startNatsServer();
  const repo = await teamRepo(dir);
  const remote = join(dir, "remote.git");
  await mkdir(remote);
  await git(remote, "init", "--quiet", "--bare");
  const bus = await Bus.connect({ url: nats.url, name: "git-guard-test", log });
  await bus.setUp(everyResource(ROLES.map((r) => CONSUMERS.step(r))));
  const marker = join(dir, "filter-ran");
  const brain = new AttackBrain(marker);
  const workspaceDir = join(dir, "ws");
  const app = buildApp({
    bus,
    brain,
    log,
    checkWork: acceptAnyWork,
    settings: {
      roles: [...ROLES],
      workspaceDir,
      stateDir: join(dir, "state"),
      repo,
      pushRemote: remote,
      // The attacks stand for a model-driven step, whose work is committed (an offline brain on a team's
      // repository commits only with MLLEAD_OFFLINE_COMMIT=1).
      offlineCommit: true,
      concurrency: 1,
      tools: defaultToolSettings({ PATH: process.env.PATH }),
      sandbox: {
        mode: "bubblewrap",
        network: false,
        limits: { memoryBytes: 2 * 1024 ** 3, processes: 256, fileSizeBytes: 1024 ** 3 },
      },
    },
  });
  const running = await app.start();
  return {
    repo,
    remote,
    marker,
    brain,
    workspaceDir,
    /** Runs one step to its end and returns its result (throws when it failed). */
    async step(taskId: string, stepId: string, role: StepWork["role"], objective: string): Promise<StepResult> {
      const work = stepWork(taskId, stepId, role, { objective });
      await bus.publish(SUBJECTS.stepWork(role), StepWork, work, `${taskId}-${stepId}`);
      let found: TaskEvent | null = null;
      await waitFor(async () => {
        for (const type of ["step.completed", "step.failed"] as const) {
          found ??= await lastEvent(bus, SUBJECTS.event({ type, taskId, stepId }));
        }
        return found !== null;
      });
      const done = found as TaskEvent | null;
      if (done?.type !== "step.completed") throw new Error(`step ${stepId} did not complete: ${JSON.stringify(done)}`);
      return done.result;
    },
    async [Symbol.asyncDispose]() {
      await running.stop().catch(() => undefined);
      await bus.close();
      await nats[Symbol.asyncDispose]();
    },
  };
}

const mlleadRef = (taskId: string) => (r: string) => !r.startsWith(`refs/heads/mllead/${taskId} `);

describe("a step cannot steer the service's git", () => {
  it("a step can read git metadata but not write it: the team's main stays, the commit lands on the task's branch", async () => {
    await using dir = await tempDir();
    await using env = await setup(dir.path);
    const before = await refsOf(join(env.repo, ".git"));

    const result = await env.step("t1", "prep", "data-engineer", "head");

    const out = env.brain.outputs.join("\n");
    expect(out).not.toContain("HEAD-WRITTEN");
    expect(out).not.toContain("INDEX-WRITTEN");
    // git inside the step still works read-only: status shows the new file, log the base commit.
    expect(out).toContain("?? clean.py");
    expect(out).toContain("Initial model");
    expect((await refsOf(join(env.repo, ".git"))).filter(mlleadRef("t1"))).toEqual(before.filter(mlleadRef("t1")));
    expect(result.git?.commits).toHaveLength(1);
    expect(await git(env.repo, "show", "refs/heads/mllead/t1:clean.py")).toBe("print('features')");
  });

  it("a filter a step names through its own .git never runs on the host, and the step is told", async () => {
    await using dir = await tempDir();
    await using env = await setup(dir.path);
    const before = await refsOf(join(env.repo, ".git"));

    const result = await env.step("t2", "prep", "data-engineer", "filter");

    expect(existsSync(env.marker)).toBe(false);
    expect(result.warnings?.join("\n")).toMatch(/\.git/);
    expect(result.filesChanged).toEqual(expect.arrayContaining(["model.py", ".gitattributes"]));
    expect((await refsOf(join(env.repo, ".git"))).filter(mlleadRef("t2"))).toEqual(before.filter(mlleadRef("t2")));
    expect(await git(env.repo, "show", "refs/heads/mllead/t2:model.py")).toBe("print('model')");
  });

  it("the code reviewer changes nothing: its edits are discarded and reported, and the approved commit is pushed", async () => {
    await using dir = await tempDir();
    await using env = await setup(dir.path);
    await env.step("t3", "prep", "data-engineer", "plain");
    const head = await git(env.repo, "rev-parse", "refs/heads/mllead/t3");

    const review = await env.step("t3", "review", "code-reviewer", "review");

    expect(await git(env.repo, "rev-parse", "refs/heads/mllead/t3")).toBe(head);
    expect(review.git?.commits).toEqual([]);
    expect(review.git?.pushed).toMatchObject({ ref: "refs/heads/mllead/t3" });
    expect(await git(env.remote, "rev-parse", "refs/heads/mllead/t3")).toBe(head);
    expect(await git(env.remote, "ls-tree", "--name-only", "refs/heads/mllead/t3")).not.toContain("backdoor.py");
    expect(review.warnings?.join("\n")).toMatch(/discarded/);
    // The review's own worktree went with the step; the branch holds the files as the prep step left them.
    expect(existsSync(join(env.workspaceDir, "t3", "review"))).toBe(false);
    expect(await git(env.repo, "ls-tree", "--name-only", "refs/heads/mllead/t3")).not.toMatch(/backdoor\.py|passwd/);
    expect(await git(env.repo, "show", "refs/heads/mllead/t3:train.py")).toBe("print('train')");
    expect(await git(env.repo, "show", "refs/heads/mllead/t3:.gitignore")).toBe("data/");
  });
});

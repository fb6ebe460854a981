import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
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
import { buildApp, type RunningSpecialists } from "../../services/specialist-agent/src/app.js";
import { TaskBranchStore } from "../../services/specialist-agent/src/branch-store.js";
import { defaultToolSettings } from "../../services/specialist-agent/src/config.js";
import { acceptAnyWork } from "../../services/specialist-agent/src/dispatched-work.js";
import { openSourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import type { SpecialistSettings } from "../../services/specialist-agent/src/settings.js";
import { syncTaskBranch } from "../../services/specialist-agent/src/task-branch-sync.js";
import { teamRepo, tempDir } from "../helpers/git-repos.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { StepOnlyBrain, stepWork } from "../helpers/specialist-test-brain.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");
const JOBS = join(import.meta.dirname, "..", "..", "jobs");

/**
 * A brain whose step writes the files its objective names (JSON: path → content), then waits until every
 * step of the test has written its files: the steps run at the same time, from the same head of the task.
 */
class ParallelBrain extends StepOnlyBrain {
  private written = 0;
  /** Runs per step id; `{run}` in a file's content is this number (a log that differs on each run). */
  readonly runs = new Map<string, number>();
  constructor(private readonly together: number) {
    super();
  }

  async runStep(work: StepWork, tools: StepTools): Promise<StepResult> {
    const files = JSON.parse(work.step.objective) as Record<string, string>;
    const run = (this.runs.get(work.stepId) ?? 0) + 1;
    this.runs.set(work.stepId, run);
    for (const [path, content] of Object.entries(files)) await tools.writeFile(path, content.replace("{run}", String(run)));
    this.written++;
    await waitFor(() => this.written >= this.together, 30_000, "every parallel step to write its files");
    return {
      status: "succeeded",
      summary: `wrote ${Object.keys(files).join(", ")}`,
      artifacts: [],
      metrics: {},
      filesChanged: Object.keys(files),
      criteria: [{ id: "ac1", criterion: "it is done", met: true, evidence: "written" }],
    };
  }
}

/** Which NATS call of the replicas fails once, as during a cluster's election: the method, and when. */
interface Fault {
  method: "publish" | "objectStore";
  when: (args: unknown[]) => boolean;
}

/** The bus as the replicas see it: the fault's call fails once with a timeout, as nats.js reports one. */
function withFault(bus: Bus, fault: Fault): Bus {
  let fired = false;
  return new Proxy(bus, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === fault.method && !fired && fault.when(args)) {
          fired = true;
          return Promise.reject(new Error("TIMEOUT"));
        }
        return value.apply(target, args);
      };
    },
  });
}

/** Two specialist replicas in one process, each with its own state and workspace dirs (their own demo repos). */
async function setup(
  together: number,
  own: Array<Partial<SpecialistSettings>> = [{}, {}],
  fault?: (brain: ParallelBrain) => Fault,
) {
  const nats = await startNatsServer();
  const dir = await tempDir("mllead-parallel-");
  const bus = await Bus.connect({ url: nats.url, name: "parallel-test", log });
  await bus.setUp(everyResource(ROLES.map((r) => CONSUMERS.step(r))));
  const brain = new ParallelBrain(together);
  const replicaBus = fault ? withFault(bus, fault(brain)) : bus;
  const replicas: RunningSpecialists[] = [];
  for (const [i, name] of ["a", "b"].entries()) {
    const app = buildApp({
      bus: replicaBus,
      brain,
      log,
      checkWork: acceptAnyWork,
      settings: {
        roles: [...ROLES],
        workspaceDir: join(dir.path, name, "ws"),
        stateDir: join(dir.path, name, "state"),
        // One step at a time each: two steps in hand at once are one on each replica.
        concurrency: 1,
        tools: defaultToolSettings({ PATH: process.env.PATH }),
        ...own[i],
      },
    });
    replicas.push(await app.start());
  }
  return {
    bus,
    brain,
    dir: dir.path,
    /** The task's commits since its base, oldest first, read as a third host would (fetched from the record's bundle). */
    async branch(taskId: string): Promise<Array<{ sha: string; files: string[]; show: (path: string) => string }>> {
      const third = await openSourceRepo({ stateDir: join(dir.path, `third-${taskId}`), demoSourceDir: JOBS });
      const head = await syncTaskBranch({ source: third, store: await TaskBranchStore.open(bus), taskId, log });
      const g = (...args: string[]) =>
        execFileSync("git", [`--git-dir=${third.gitCommonDir}`, ...args])
          .toString()
          .trim();
      const shas = g("rev-list", "--reverse", `${head.base}..${head.head}`).split("\n").filter(Boolean);
      return shas.map((sha) => ({
        sha,
        files: g("diff-tree", "--no-commit-id", "--name-only", "-r", sha).split("\n"),
        show: (path: string) => g("show", `${sha}:${path}`),
      }));
    },
    async step(taskId: string, stepId: string, files: Record<string, string>, role: StepWork["role"] = "data-engineer") {
      const work = stepWork(taskId, stepId, role, { objective: JSON.stringify(files) });
      await bus.publish(SUBJECTS.stepWork(role), StepWork, work, `${taskId}-${stepId}`);
    },
    async outcome(taskId: string, stepId: string): Promise<TaskEvent> {
      const subjects = (["step.completed", "step.failed"] as const).map((type) => SUBJECTS.event({ type, taskId, stepId }));
      let found: TaskEvent | null = null;
      await waitFor(async () => {
        for (const s of subjects) found ??= await lastEvent(bus, s);
        return found !== null;
      }, 60_000);
      return found as unknown as TaskEvent;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(replicas.map((r) => r.stop()));
      await bus.close();
      await nats[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

const result = (e: TaskEvent): StepResult => {
  if (e.type !== "step.completed") throw new Error(`expected step.completed, got ${JSON.stringify(e).slice(0, 400)}`);
  return e.result;
};

describe("parallel steps of one task on two replicas", () => {
  it("each commit holds only its own step's files, and both are on the task's branch", async () => {
    await using env = await setup(2);
    await env.step("tp", "left", { "left.py": "print('left')\n" });
    await env.step("tp", "right", { "right.py": "print('right')\n" });
    const left = result(await env.outcome("tp", "left"));
    const right = result(await env.outcome("tp", "right"));

    expect(left.filesChanged).toEqual(["left.py"]);
    expect(right.filesChanged).toEqual(["right.py"]);
    // Read the task's branch as a third host would: a fresh demo repository, fetched from the record's bundle.
    const third = await openSourceRepo({ stateDir: join(env.dir, "third"), demoSourceDir: JOBS });
    const head = await syncTaskBranch({ source: third, store: await TaskBranchStore.open(env.bus), taskId: "tp", log });
    const g = (...args: string[]) =>
      execFileSync("git", [`--git-dir=${third.gitCommonDir}`, ...args])
        .toString()
        .trim();
    const shas = g("rev-list", "--reverse", `${head.base}..${head.head}`).split("\n");
    expect(shas).toHaveLength(2);
    const files = shas.map((sha) => g("diff-tree", "--no-commit-id", "--name-only", "-r", sha));
    expect(files.sort()).toEqual(["left.py", "right.py"]);
    // Each result names the commit that is on the branch (the second one re-applied onto the first).
    expect(new Set([left.git?.commits[0]?.sha, right.git?.commits[0]?.sha])).toEqual(new Set(shas));
    // Both replicas' step worktrees are gone; the branch data stays.
    for (const host of ["a", "b"]) expect(existsSync(join(env.dir, host, "ws", "tp", "left"))).toBe(false);
  });

  it("two parallel steps that change the same lines: one commits, the other fails naming the file", async () => {
    await using env = await setup(2);
    await env.step("tc", "one", { "shared.txt": "one\n" });
    await env.step("tc", "two", { "shared.txt": "two\n" });
    const outcomes = [await env.outcome("tc", "one"), await env.outcome("tc", "two")];
    const failed = outcomes.filter((e) => e.type === "step.failed");
    expect(outcomes.filter((e) => e.type === "step.completed")).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.type === "step.failed" && failed[0].error).toMatch(
      /changes conflict with changes another step of the task committed meanwhile, in shared\.txt/,
    );
  });

  it("a replica whose repository lacks the task's base fails the step and says why", async () => {
    await using repos = await tempDir("mllead-other-repo-");
    const other = await teamRepo(repos.path);
    // Replica a (the demo repository) takes data steps, replica b (another repository) analysis steps.
    await using env = await setup(1, [{ roles: ["data-engineer"] }, { roles: ["analyst"], repo: other, offlineCommit: true }]);
    await env.step("tb", "first", { "first.py": "print(1)\n" });
    expect((await env.outcome("tb", "first")).type).toBe("step.completed");
    await env.step("tb", "second", { "second.py": "print(2)\n" }, "analyst");
    const second = await env.outcome("tb", "second");
    expect(second.type === "step.failed" && second.error).toMatch(
      /lacks commit [0-9a-f]{40}, where task tb's branch starts: every specialist replica must work on the same repository/,
    );
  });

  // A step is redelivered after a NATS timeout; its redelivery must finish it, with one commit, whatever it redoes.
  const dataOnA = [{ roles: ["data-engineer" as const] }, { roles: ["analyst" as const] }];

  it("a step whose commit joined the branch but whose report timed out is redelivered and completes once, one commit", async () => {
    const completed = SUBJECTS.event({ type: "step.completed", taskId: "tr", stepId: "once" });
    await using env = await setup(1, dataOnA, () => ({ method: "publish", when: (args) => args[0] === completed }));
    await env.step("tr", "once", { "once.py": "print('once')\n", "run.log": "run {run}\n" });
    const done = result(await env.outcome("tr", "once"));
    expect(env.brain.runs.get("once")).toBe(2);
    const commits = await env.branch("tr");
    expect(commits).toHaveLength(1);
    expect(commits[0]?.files.sort()).toEqual(["once.py", "run.log"]);
    // The commit that joined first stays the step's commit: the redelivery found it and made no second one.
    expect(commits[0]?.show("run.log")).toBe("run 1");
    expect(done.git?.commits.map((c) => c.sha)).toEqual([commits[0]?.sha]);
  });

  it("a step whose commit was made but never joined (its bundle upload timed out) commits again and joins as one commit", async () => {
    // The first run's join fails uploading the bundle; the redelivery runs in the same worktree, on top of that commit.
    await using env = await setup(1, dataOnA, (brain) => ({ method: "objectStore", when: () => brain.runs.get("again") === 1 }));
    await env.step("tj", "again", { "again.py": "print('again')\n", "run.log": "run {run}\n" });
    const done = result(await env.outcome("tj", "again"));
    expect(env.brain.runs.get("again")).toBe(2);
    const commits = await env.branch("tj");
    expect(commits).toHaveLength(1);
    expect(commits[0]?.files.sort()).toEqual(["again.py", "run.log"]);
    expect(commits[0]?.show("run.log")).toBe("run 2");
    expect(done.git?.commits.map((c) => c.sha)).toEqual([commits[0]?.sha]);
  });
});

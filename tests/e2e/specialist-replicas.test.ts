import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { Bus } from "@mllead/bus";
import { lastEvent, SUBJECTS } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { TaskBranchStore } from "../../services/specialist-agent/src/branch-store.js";
import { openSourceRepo } from "../../services/specialist-agent/src/git-repo.js";
import { syncTaskBranch } from "../../services/specialist-agent/src/task-branch-sync.js";
import { tempDir } from "../helpers/git-repos.js";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");
const JOBS = join(import.meta.dirname, "..", "..", "jobs");
const TASK = "train a baseline on the churn table and compare it with last week's model";

/** The steps a specialist process started, from its JSON log lines: `taskId/stepId`. */
function stepsStarted(lines: readonly string[]): Array<{ taskId: string; stepId: string }> {
  const out: Array<{ taskId: string; stepId: string }> = [];
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    const rec = JSON.parse(line) as { msg?: string; taskId?: string; stepId?: string };
    if (rec.msg === "step started" && rec.taskId && rec.stepId) out.push({ taskId: rec.taskId, stepId: rec.stepId });
  }
  return out;
}

describe("specialists on two hosts: any step of a task on any replica", () => {
  it("one task's steps run on both replicas, each with its own state and workspace dirs; one commit per step on the branch", async () => {
    // The stack's specialist takes data and analysis steps, the second replica (its own dirs, as on another
    // host) training and the code review: the task's branch has to travel between them after every step.
    await using stack = await startStack(
      { MLLEAD_ROLES: "data-engineer,analyst" },
      // Each service with its own NATS user (infra/nats-permissions.conf): the replicas may use the branch bucket.
      { specialistReplicas: [{ MLLEAD_ROLES: "ml-engineer,code-reviewer" }], natsUsers: "passwords" },
    );
    const { sandbox } = stack;
    const sent = await sandbox.mention(TASK);
    const thread = () => sandbox.thread(sandbox.defaultChannel, sent.ts);
    const find = (kind: string) => botMessages(thread()).find((m) => kindOf(m) === kind);
    await waitFor(() => find("task.planned") !== undefined, 60_000, "the plan");
    const plan = find("task.planned");
    if (!plan) throw new Error("no plan");
    expect((await sandbox.click(plan.ts, "mllead_approve")).status).toBe(200);
    await waitFor(() => find("task.completed") !== undefined || find("task.failed") !== undefined, 180_000, "the task's end");
    expect(find("task.failed")).toBeUndefined();

    // Both replicas ran steps of the task.
    const first = stepsStarted(stack.logs("specialist-agent"));
    const second = stepsStarted(stack.replicas[0]?.lines ?? []);
    const taskId = first[0]?.taskId ?? "";
    expect(taskId).not.toBe("");
    expect(first.filter((s) => s.taskId === taskId).length).toBeGreaterThan(0);
    expect(second.filter((s) => s.taskId === taskId).length).toBeGreaterThan(0);
    const steps = [...new Set([...first, ...second].filter((s) => s.taskId === taskId).map((s) => s.stepId))];

    // The final branch, read as a third replica would (its NATS user, a fresh demo repository fetching the bundle).
    const as = stack.nats.users?.serviceEnv("specialist-agent") ?? {};
    const bus = await Bus.connect({
      url: stack.nats.url,
      name: "replicas-test",
      log,
      credentials: { user: as.NATS_USER ?? "", password: as.NATS_PASSWORD ?? "" },
      inboxPrefix: "_INBOX_specialist-agent",
    });
    try {
      await using dir = await tempDir("mllead-third-host-");
      const third = await openSourceRepo({ stateDir: dir.path, demoSourceDir: JOBS });
      const head = await syncTaskBranch({ source: third, store: await TaskBranchStore.open(bus), taskId, log });
      const g = (...args: string[]) =>
        execFileSync("git", [`--git-dir=${third.gitCommonDir}`, ...args])
          .toString()
          .trim();
      const commits = g(
        "log",
        "--reverse",
        "--format=%H %(trailers:key=Mllead-Step,valueonly,separator=)",
        `${head.base}..${head.head}`,
      )
        .split("\n")
        .map((l) => l.split(" ") as [string, string]);

      // What each step reported: its commit is the one on the branch; the reviewer commits nothing.
      const reported = new Map<string, string[]>();
      const summaries: string[] = [];
      for (const stepId of steps) {
        const done = await lastEvent(bus, SUBJECTS.event({ type: "step.completed", taskId, stepId }));
        if (done?.type !== "step.completed") throw new Error(`step ${stepId} did not complete`);
        expect(done.result.git?.branch).toBe(`mllead/${taskId}`);
        reported.set(stepId, done.result.git?.commits.map((c) => c.sha) ?? []);
        // The training step (on the other replica) found the data step's ignored splits in data/: they travelled.
        expect(done.result.summary).not.toContain("No data splits in the workspace");
        summaries.push(done.result.summary ?? "");
      }
      expect(summaries.join("\n")).toMatch(/ml-engineer|train/i);
      const stepOf = new Map(commits.map(([sha, step]) => [sha, step]));
      // One commit per committing step, each the step's own, and no step twice.
      expect(new Set(commits.map(([, step]) => step)).size).toBe(commits.length);
      for (const [stepId, shas] of reported) {
        expect(shas.length).toBeLessThanOrEqual(1);
        for (const sha of shas) expect(stepOf.get(sha)).toBe(stepId);
      }
      expect(commits.length).toBe([...reported.values()].filter((s) => s.length === 1).length);
      expect(commits.length).toBeGreaterThanOrEqual(2);
    } finally {
      await bus.close();
    }
  });
});

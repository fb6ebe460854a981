import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NOT_COMMITTED_PREFIX, type StepTools } from "@mllead/brain";
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
import { makeTeamRepo } from "../helpers/claude-team.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { stepWork, TestBrain } from "../helpers/specialist-test-brain.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

/** The test brain with a reviewer that approves (and, like any command it runs, leaves a scratch file). */
class ReviewingBrain extends TestBrain {
  override async runStep(work: StepWork, tools: StepTools): Promise<StepResult> {
    if (work.role !== "code-reviewer") return super.runStep(work, tools);
    await tools.writeFile("review-scratch.txt", "notes\n");
    return {
      status: "succeeded",
      summary: "Reviewed: approve",
      artifacts: [],
      metrics: {},
      filesChanged: [],
      criteria: [{ id: "ac1", criterion: "it is done", met: true, evidence: "read the diff" }],
      verdict: { decision: "approve", summary: "looks fine", findings: [], checks: [] },
    };
  }
}

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

/** The specialist app on a team's repository (MLLEAD_REPO) with a push remote, over a real nats-server. */
async function setup(offlineCommit: boolean) {
  const team = await makeTeamRepo();
  const nats = await startNatsServer();
  const workspaceDir = await mkdtemp(join(tmpdir(), "mllead-offline-commit-"));
  const bus = await Bus.connect({ url: nats.url, name: "offline-commit-test", log });
  await bus.setUp(everyResource(ROLES.map((r) => CONSUMERS.step(r))));
  const app = buildApp({
    bus,
    brain: new ReviewingBrain(),
    log,
    checkWork: acceptAnyWork,
    settings: {
      roles: [...ROLES],
      workspaceDir,
      stateDir: join(workspaceDir, ".state"),
      concurrency: 1,
      repo: team.repo,
      pushRemote: team.remote,
      offlineCommit,
      tools: defaultToolSettings({ PATH: process.env.PATH }),
    },
  });
  const running = await app.start();
  return {
    team,
    workspaceDir,
    /** Publishes a step and returns its step.completed or step.failed event. */
    async run(work: StepWork): Promise<TaskEvent> {
      await bus.publish(SUBJECTS.stepWork(work.role), StepWork, work, `${work.taskId}-${work.stepId}-${work.attempt}`);
      let found: TaskEvent | null = null;
      await waitFor(async () => {
        for (const type of ["step.completed", "step.failed"] as const)
          found ??= await lastEvent(bus, SUBJECTS.event({ type, taskId: work.taskId, stepId: work.stepId }));
        return found !== null;
      }, 30_000);
      return found as unknown as TaskEvent;
    },
    async [Symbol.asyncDispose]() {
      await running.stop().catch((err: unknown) => log.warn({ err }, "stopping the consumers (best effort)"));
      await bus.close();
      await nats[Symbol.asyncDispose]();
      await rm(workspaceDir, { recursive: true, force: true });
      await rm(join(team.repo, ".."), { recursive: true, force: true });
    },
  };
}

function completed(e: TaskEvent): StepResult {
  if (e.type !== "step.completed") throw new Error(`expected step.completed, got ${JSON.stringify(e).slice(0, 500)}`);
  return e.result;
}

describe("the offline brain on a team's repository", () => {
  it("commits nothing and pushes nothing by default: the work stays in the worktree, and the result says so", async () => {
    await using env = await setup(false);
    const gitDir = join(env.team.repo, ".git");
    const before = refs(gitDir);

    const data = completed(await env.run(stepWork("t1", "data", "data-engineer")));
    const review = completed(await env.run({ ...stepWork("t1", "review", "code-reviewer"), reviewScope: [] }));

    // No ref of the team's repository names a commit it did not have before (the task's branch, made for the
    // worktree, sits on the base commit), and the push remote has no ref at all.
    const after = refs(gitDir);
    const known = new Set(before.values());
    for (const [ref, sha] of after) expect(known.has(sha), `${ref} → ${sha}`).toBe(true);
    expect(after.get("refs/heads/mllead/t1")).toBe(env.team.base);
    expect(refs(env.team.remote).size).toBe(0);

    for (const r of [data, review]) {
      expect(r.git).toBeUndefined();
      expect(r.warnings?.find((w) => w.startsWith(NOT_COMMITTED_PREFIX))).toMatch(/set MLLEAD_OFFLINE_COMMIT=1 to commit/);
    }
    expect(data.filesChanged).toContain("make_data.py");
    // The work is in the worktree, uncommitted — the review did not discard it.
    const worktree = join(env.workspaceDir, "t1");
    expect(existsSync(join(worktree, "make_data.py"))).toBe(true);
    expect(existsSync(join(worktree, "data", "raw.csv"))).toBe(true);
    const status = execFileSync("git", ["status", "--porcelain"], { cwd: worktree }).toString();
    expect(status).toContain("make_data.py");
  });

  it("commits and pushes with MLLEAD_OFFLINE_COMMIT=1", async () => {
    await using env = await setup(true);
    const data = completed(await env.run(stepWork("t2", "data", "data-engineer")));
    const review = completed(await env.run({ ...stepWork("t2", "review", "code-reviewer"), reviewScope: [] }));

    expect(data.warnings ?? []).not.toContainEqual(expect.stringMatching(/^not committed/));
    expect(data.git?.commits).toHaveLength(1);
    const sha = data.git?.commits[0]?.sha ?? "";
    expect(refs(join(env.team.repo, ".git")).get("refs/heads/mllead/t2")).toBe(sha);
    expect(review.git?.pushed?.ref).toBe("refs/heads/mllead/t2");
    expect(refs(env.team.remote).get("refs/heads/mllead/t2")).toBe(sha);
    // The reviewer changes nothing: its scratch file was discarded, as always when work is committed.
    expect(existsSync(join(env.workspaceDir, "t2", "review-scratch.txt"))).toBe(false);
  });

  it("commits a Claude step whatever the work message says (only offline work on offline brains is left uncommitted)", async () => {
    await using env = await setup(false);
    const data = completed(await env.run({ ...stepWork("t3", "data", "data-engineer"), brain: "anthropic" }));
    expect(data.git?.commits).toHaveLength(1);
    expect(data.warnings ?? []).not.toContainEqual(expect.stringMatching(/^not committed/));
  });
});

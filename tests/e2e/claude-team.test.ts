import { execFileSync } from "node:child_process";
import { Bus } from "@mllead/bus";
import { type TaskEvent, taskIdFor } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { claudeTeam, LEAK, makeTeamRepo, type TeamOptions } from "../helpers/claude-team.js";
import { type FakeAnthropic, startFakeAnthropic } from "../helpers/fake-anthropic.js";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf, visibleText } from "../helpers/thread.js";
import { collectEvents, waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");

/** The Claude team on a real team repository with a push remote, and a mention in the sandbox. */
async function claudeRun(team: TeamOptions = {}) {
  const repo = await makeTeamRepo();
  const api = await startFakeAnthropic(claudeTeam(team));
  const stack = await startStack({
    MLLEAD_BRAIN: "anthropic",
    ANTHROPIC_API_KEY: api.apiKey,
    ANTHROPIC_BASE_URL: api.url,
    MLLEAD_REPO: repo.repo,
    MLLEAD_PUSH_REMOTE: repo.remote,
  });
  const { sandbox } = stack;
  const sent = await sandbox.mention("train a baseline on the churn table and plot its loss");
  const taskId = taskIdFor(sandbox.defaultChannel, sent.ts, sandbox.bot.teamId);
  const bus = await Bus.connect({ url: stack.nats.url, name: "observer", log });
  const events = await collectEvents(bus, taskId);
  const thread = () => botMessages(sandbox.thread(sandbox.defaultChannel, sent.ts));
  return {
    repo,
    api,
    stack,
    taskId,
    events,
    thread,
    /** What a person sees, for a failing test's message. */
    seen(): string {
      return thread()
        .map((m) => `${kindOf(m)}: ${m.text}`)
        .join("\n");
    },
    async approveFirstPlan() {
      await waitFor(() => thread().some((m) => kindOf(m) === "task.planned"), 30_000, "Claude's plan");
      const plan = thread().find((m) => kindOf(m) === "task.planned");
      await sandbox.click(plan?.ts ?? "", "mllead_approve");
    },
    async [Symbol.asyncDispose]() {
      await bus.close();
      await stack[Symbol.asyncDispose]();
      await api.close();
    },
  };
}

/** Per role: model requests, tool calls by name, and tokens, read from what the fake API served. */
function perRole(api: FakeAnthropic) {
  type Row = {
    requests: number;
    tools: Record<string, number>;
    input: number;
    output: number;
    cacheRead: number;
    cacheWrite: number;
    /** Share of the role's input tokens read from the prompt cache, in %. */
    cachedShare: number;
  };
  const out: Record<string, Row> = {};
  // A thread's later turns carry only new messages: their role is the role of the reply they continue.
  const roleOfReply = new Map<string, string>();
  for (const r of api.requests) {
    if (!r.reply) continue;
    const role =
      r.thread?.type === "continue"
        ? (roleOfReply.get(r.thread.previous_message_id) ?? "?")
        : (/You are the ([a-z-]+) on task/.exec(JSON.stringify(r.body.messages[0]?.content ?? ""))?.[1] ?? "tech-lead");
    roleOfReply.set(r.reply.id, role);
    const row = out[role] ?? { requests: 0, tools: {}, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cachedShare: 0 };
    out[role] = row;
    row.requests += 1;
    for (const b of r.reply.content) if (b.type === "tool_use") row.tools[b.name] = (row.tools[b.name] ?? 0) + 1;
    row.input += r.reply.usage.input_tokens;
    row.output += r.reply.usage.output_tokens;
    row.cacheRead += r.reply.usage.cache_read_input_tokens;
    row.cacheWrite += r.reply.usage.cache_creation_input_tokens;
    row.cachedShare = Math.round((100 * row.cacheRead) / (row.input + row.cacheRead + row.cacheWrite));
  }
  return out;
}

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd }).toString().trim();
const stepEvent = (events: TaskEvent[], type: TaskEvent["type"], stepId: string) =>
  events.filter((e) => e.type === type && "stepId" in e && e.stepId === stepId);

describe("@mllead with Claude doing the work in the team's repository (real SDK tool loops, a local Messages API)", () => {
  it("each specialist works through the tools on the task's branch; criteria with evidence in the thread; one commit per step; pushed", async () => {
    await using run = await claudeRun();
    const { repo, api, taskId, events, thread } = run;
    await run.approveFirstPlan();
    await waitFor(() => thread().some((m) => kindOf(m) === "task.completed"), 180_000, "the summary").catch((err) => {
      throw new Error(
        `${err.message}\n--- thread ---\n${run.seen()}\n--- jobs ---\n${JSON.stringify(events.filter((e) => e.type === "job.finished"))}`,
      );
    });

    // The branch in the team's repository: one commit per step that changed code, in order, then pushed.
    const branch = `mllead/${taskId}`;
    const subjects = git(repo.repo, "log", "--format=%s", `${repo.base}..${branch}`).split("\n").reverse();
    expect(subjects).toEqual([
      "mllead(data-engineer): Split the churn table",
      "mllead(ml-engineer): Train the baseline",
      "mllead(analyst): Plot the loss and report",
    ]);
    const files = git(repo.repo, "diff", "--name-only", repo.base, branch).split("\n");
    expect(files).toEqual(
      expect.arrayContaining([
        "pipeline/split.py",
        "splits/train.csv",
        "training/train.py",
        "reports/loss.png",
        "reports/report.md",
      ]),
    );
    expect(git(repo.repo, "show", `${branch}:reports/report.md`)).toMatch(/val_auc = 0\.\d+ after 30 epochs/);
    expect(git(repo.remote, "rev-parse", branch)).toBe(git(repo.repo, "rev-parse", branch));
    // The team's own checkout was never touched.
    expect(git(repo.repo, "rev-parse", "HEAD")).toBe(repo.base);
    expect(git(repo.repo, "status", "--porcelain")).toBe("");

    // The runner ran the training job once, from the ml-engineer's SubmitGpuJob.
    expect(events.filter((e) => e.type === "job.started")).toHaveLength(1);
    const train = stepEvent(events, "step.completed", "train")[0];
    expect(train?.type === "step.completed" && train.result.metrics.val_auc).toBeGreaterThan(0.6);

    // In the thread: every step's criteria ✓ with evidence, the branch and commits in the summary, the plot as an artifact.
    for (const [stepId, evidence] of [
      ["data", "rows=200 train=160 val=40"],
      ["train", "val_auc="],
      ["analyze", "reports/loss.png written"],
      ["review", "git log"],
    ] as const) {
      const msg = thread().find(
        (m) =>
          kindOf(m) === "step.completed" &&
          visibleText(m).includes(`\`${stepId}\``) === false &&
          visibleText(m).includes(evidence),
      );
      expect(msg, `the ${stepId} step's criteria in the thread`).toBeDefined();
      expect(visibleText(msg as never)).toContain(":white_check_mark: `ac1`");
    }
    const summary = thread().find((m) => kindOf(m) === "task.completed");
    const said = visibleText(summary as never);
    expect(said).toContain("Claude's summary");
    expect(said).toContain(branch);
    expect(said).toContain("pushed to");
    expect(said).toMatch(/mllead\(analyst\): Plot the loss and report/);
    const analyze = stepEvent(events, "step.completed", "analyze")[0];
    expect(analyze?.type === "step.completed" && analyze.result.artifacts.map((a) => a.name)).toEqual([
      "reports/loss.png",
      "reports/report.md",
    ]);

    // Prompt caching: the system prompt and tools were cached and read back on later turns.
    expect(api.usage.cache_read_input_tokens).toBeGreaterThan(0);
    expect(api.scriptErrors).toEqual([]);
    const table = perRole(api);
    expect(table["data-engineer"]?.tools).toMatchObject({ Glob: 1, Write: 1, Bash: 1, FinishStep: 1 });
    expect(table["ml-engineer"]?.tools).toMatchObject({ Write: 1, SubmitGpuJob: 1, FinishStep: 1 });
    // Every specialist loop reads its conversation from the cache from the second turn on (top-level cache_control).
    for (const role of ["data-engineer", "ml-engineer", "analyst", "code-reviewer"]) {
      expect(table[role]?.cachedShare, `${role}: share of input tokens read from the cache`).toBeGreaterThan(50);
    }
    // For the closing note: tool calls, tokens and the cached share of input tokens per role.
    console.log(`claude-team e2e, per role:\n${JSON.stringify(table, null, 1)}\ntotals: ${JSON.stringify(api.usage)}`);
    // No key in the thread or the logs.
    expect(JSON.stringify(thread())).not.toContain(api.apiKey);
    expect(run.stack.logs("specialist-agent").join("\n")).not.toContain(api.apiKey);
  }, 240_000);

  it("a step whose FinishStep leaves a criterion unmet fails with ✗ and its evidence, and the tech lead re-plans", async () => {
    await using run = await claudeRun({ analystFails: true });
    const { events, thread } = run;
    await run.approveFirstPlan();
    await waitFor(() => events.some((e) => e.type === "task.replanning"), 180_000, "the re-plan");
    const failed = stepEvent(events, "step.failed", "analyze")[0];
    expect(failed?.type === "step.failed" && failed.error).toMatch(/acceptance criteria not met: ac2/);
    // What the failed step spent still counts towards the task's cost.
    expect(failed?.type === "step.failed" && failed.usage?.requests).toBe(3);
    expect(failed?.type === "step.failed" && failed.usage?.costUsd).toBeGreaterThan(0);
    expect(stepEvent(events, "step.completed", "analyze")).toHaveLength(0);
    // The review never started: nothing new starts once a step failed.
    expect(stepEvent(events, "step.started", "review")).toHaveLength(0);
    await waitFor(() => thread().filter((m) => kindOf(m) === "task.planned").length === 2, 60_000, "revision 2 of the plan");
    const shown = thread().find((m) => kindOf(m) === "step.failed");
    const text = visibleText(shown as never);
    expect(text).toContain(":x: `ac2`");
    expect(text).toContain("no such model in the repository");
    expect(text).toContain(":white_check_mark: `ac1`");
  }, 240_000);

  it("a specialist SIGKILLed in the middle of its tool loop resumes it: the step finishes, no commit or GPU job is made twice", async () => {
    await using run = await claudeRun({ trainPause: 0.15 });
    const { repo, api, stack, taskId, events, thread } = run;
    await run.approveFirstPlan();
    // The ml-engineer has written train.py and is waiting on its GPU job (about 4.5 s) when the process dies.
    await waitFor(() => events.some((e) => e.type === "job.started"), 60_000, "the training job to start");
    await stack.kill("specialist-agent");
    await stack.start("specialist-agent");
    await waitFor(() => thread().some((m) => kindOf(m) === "task.completed"), 180_000, "the summary").catch((err) => {
      throw new Error(`${err.message}\n--- thread ---\n${run.seen()}`);
    });

    // The job was queued and run once; the step completed once.
    expect(events.filter((e) => e.type === "job.queued")).toHaveLength(1);
    expect(events.filter((e) => e.type === "job.started")).toHaveLength(1);
    expect(stepEvent(events, "step.completed", "train")).toHaveLength(1);
    // Claude was not asked to redo what the dead process had done: one Write and one SubmitGpuJob in all.
    const table = perRole(api);
    expect(table["ml-engineer"]?.tools).toEqual({ Write: 1, SubmitGpuJob: 1, FinishStep: 1 });
    // One commit per step on the branch, none twice.
    const branch = `mllead/${taskId}`;
    const subjects = git(repo.repo, "log", "--format=%s", `${repo.base}..${branch}`).split("\n").reverse();
    expect(subjects).toEqual([
      "mllead(data-engineer): Split the churn table",
      "mllead(ml-engineer): Train the baseline",
      "mllead(analyst): Plot the loss and report",
    ]);
    expect(stack.logs("specialist-agent").join("\n")).toContain("resuming the step's conversation");
  }, 240_000);

  it("a reviewer that finds leakage (its audit criterion unmet) sends the fix round with its findings, not a re-plan; its checks are in the thread", async () => {
    await using run = await claudeRun({ reviewerFindsLeakage: true });
    const { api, events, thread } = run;
    await run.approveFirstPlan();
    await waitFor(() => thread().some((m) => kindOf(m) === "task.completed"), 240_000, "the summary").catch((err) => {
      throw new Error(`${err.message}\n--- thread ---\n${run.seen()}`);
    });
    expect(events.some((e) => e.type === "task.replanning")).toBe(false);
    expect(thread().filter((m) => kindOf(m) === "task.planned")).toHaveLength(1);
    // The first review came back whole (not as a failed step), and the data step ran again with its finding.
    const reviews = stepEvent(events, "step.completed", "review");
    expect(reviews.map((e) => e.type === "step.completed" && e.result.verdict?.decision)).toEqual(["request_changes", "approve"]);
    expect(stepEvent(events, "step.failed", "review")).toHaveLength(0);
    expect(stepEvent(events, "step.started", "data").map((e) => ("attempt" in e ? e.attempt : 0))).toEqual([1, 2]);
    const fixPrompt = api.requests
      .map((r) => JSON.stringify(r.body.messages[0]?.content ?? ""))
      .find((m) => m.includes("You are the data-engineer") && m.includes("findings this attempt must fix"));
    expect(fixPrompt).toContain(LEAK.message);
    // The re-review audits the fix against its own findings.
    const rereview = api.requests
      .map((r) => JSON.stringify(r.body.messages[0]?.content ?? ""))
      .find((m) => m.includes("You are the code-reviewer") && m.includes("Your previous review's findings"));
    expect(rereview).toContain(LEAK.message);
    // In the thread: the review's checks, one per pitfall, and the unmet audit with its evidence.
    const first = thread().find((m) => kindOf(m) === "step.completed" && visibleText(m).includes("changes requested"));
    const shown = visibleText(first as never);
    expect(shown).toContain("Checks, one per ML pitfall");
    expect(shown).toContain(":x: data leakage (fail)");
    expect(shown).toContain(":white_check_mark: reproducibility (pass)");
    expect(shown).toContain(":x: `ac4`");
    expect(shown).toContain("fit the scaler on the train split only");
  }, 300_000);
});

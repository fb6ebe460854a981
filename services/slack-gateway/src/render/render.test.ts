import { type EventOf, type Plan, REVIEW_PITFALLS, type Step, type TaskView } from "@mllead/contracts";
import { blockProblems, homeViewProblems, SLACK_LIMITS, viewProblems } from "@mllead/slack-sandbox";
import { describe, expect, it } from "vitest";
import { askTaskText, renderAskModal } from "./ask-modal.js";
import { fitBlocks, OFFLINE_NOTE, section } from "./blocks.js";
import { artifactsLine, fileComment, fileShares } from "./files.js";
import { renderHome } from "./home.js";
import { renderJob } from "./jobs.js";
import { PLAN_ACTIONS, parsePlanButtonValue, renderPlan } from "./plan.js";
import { renderPlanDetails, renderPlanDetailsMessage } from "./plan-details.js";
import { renderProgressCard, renderStatusCard, renderStatusReply } from "./status.js";
import { renderStepCompleted, renderStepStarted } from "./steps.js";
import { renderReplanning, renderSummaryStream, renderTaskCompleted } from "./task-lines.js";

const AT = "2026-11-25T10:00:00.000Z";
const huge = (n: number, ch = "x") => ch.repeat(n);

function step(i: number, over: Partial<Step> = {}): Step {
  return {
    id: `s${i}`,
    role: i === 12 ? "code-reviewer" : "ml-engineer",
    title: `Step ${i} ${huge(140)}`.slice(0, 150),
    objective: huge(3000, "o"),
    context: huge(3000, "c"),
    requirements: Array.from({ length: 20 }, (_, j) => `req ${j} ${huge(990)}`),
    acceptanceCriteria: Array.from({ length: 20 }, (_, j) => ({ id: `ac${j}`, text: `crit ${j} ${huge(990)}` })),
    params: {},
    nextHandoff: { to: "tech-lead", reason: huge(500, "r") },
    dependsOn: i > 1 ? [`s${i - 1}`] : [],
    changesCode: true,
    usesGpu: false,
    ...over,
  };
}

function planned(plan: Partial<Plan> = {}): EventOf<"task.planned"> {
  return {
    v: 1,
    eventId: "t1:planned:1",
    taskId: "t1",
    at: AT,
    type: "task.planned",
    revision: 3,
    requester: "U1",
    feedback: huge(4000, "f"),
    plan: {
      summary: huge(2000, "s"),
      scope: "multi-agent",
      risks: Array.from({ length: 10 }, () => ({ risk: huge(500), mitigation: huge(500) })),
      steps: Array.from({ length: 12 }, (_, i) => step(i + 1)),
      brain: "offline",
      ...plan,
    },
  };
}

function texts(blocks: unknown[] | undefined): string {
  return JSON.stringify(blocks ?? []);
}

describe("plan rendering", () => {
  it("keeps the largest possible plan inside Block Kit limits, with its buttons and the offline label", () => {
    const msg = renderPlan(planned());
    expect(blockProblems(msg.blocks)).toEqual([]);
    expect(msg.blocks?.length).toBeLessThanOrEqual(SLACK_LIMITS.maxBlocks);
    expect(msg.text.length).toBeLessThanOrEqual(3000);
    const actions = msg.blocks?.find((b) => b.type === "actions");
    expect(JSON.stringify(actions)).toContain(PLAN_ACTIONS.approve);
    expect(JSON.stringify(actions)).toContain(PLAN_ACTIONS.requestChanges);
    expect(JSON.stringify(actions)).toContain(PLAN_ACTIONS.cancel);
    expect(texts(msg.blocks)).toContain("offline brain");
    // Truncated text says so.
    expect(texts(msg.blocks)).toContain("…");
  });

  it("shows the steps at a glance (title, role, what each waits for) and each full handoff behind Details", () => {
    const small = planned({
      brain: "anthropic",
      risks: [{ risk: "leakage", mitigation: "split by user" }],
      steps: [
        step(1, {
          title: "Clean data",
          objective: "dedupe",
          context: "",
          requirements: ["drop nulls"],
          acceptanceCriteria: [{ id: "ac1", text: "no nulls" }],

          params: {},
        }),
        step(2, {
          title: "Review",
          role: "code-reviewer",
          objective: "review",
          requirements: ["read"],
          acceptanceCriteria: [{ id: "ac1", text: "verdict" }],

          params: {},
        }),
      ],
    });
    const msg = renderPlan(small);
    const glance = texts(msg.blocks);
    for (const want of [
      "1. *Clean data* · `ml-engineer` · starts first",
      "2. *Review* · `code-reviewer` · after 1",
      "1 risk",
      "2 steps",
    ]) {
      expect(glance).toContain(want);
    }
    for (const detail of ["dedupe", "drop nulls", "☐ no nulls", "split by user"]) expect(glance).not.toContain(detail);
    expect(glance).not.toContain("offline brain");
    const actions = msg.blocks?.find((b) => b.type === "actions") as { elements: { action_id: string; value: string }[] };
    expect(actions.elements.map((e) => e.action_id)).toEqual([
      PLAN_ACTIONS.approve,
      PLAN_ACTIONS.requestChanges,
      PLAN_ACTIONS.details,
      PLAN_ACTIONS.cancel,
    ]);
    expect(parsePlanButtonValue(actions.elements[0]?.value)).toEqual({ t: "t1", r: 3 });

    const details = renderPlanDetails(small.plan, small.revision);
    expect(viewProblems(details)).toEqual([]);
    const all = texts(details.blocks);
    for (const want of [
      "Clean data",
      "`ml-engineer`",
      "dedupe",
      "drop nulls",
      "☐ no nulls",
      "Next handoff",
      "Depends on",
      "leakage",
      "split by user",
    ]) {
      expect(all).toContain(want);
    }
    expect(all).toContain("*Track:* experiment (speed first)");
    for (const absent of ["*Assumptions*", "*Open questions*", "*Lessons followed*"]) expect(all).not.toContain(absent);
  });

  it("shows in Details what the plan assumes, what it still asks and the channel's lessons it follows", () => {
    const base = planned();
    const plan = {
      ...base.plan,
      shape: "experiment-cycle" as const,
      track: "production" as const,
      assumptions: ["the label column is `churned`"],
      questions: [{ id: "target", text: "Which metric decides: AUC or recall@10%?", choices: ["AUC", "recall"] }],
      lessonsApplied: [{ id: "l1", text: "Split churn data by user, never by row" }],
    };
    const all = texts(renderPlanDetails(plan, 2).blocks);
    for (const want of [
      "*Shape:* `experiment-cycle`",
      "*Track:* production (correctness first)",
      // texts() is the blocks as JSON: a line break inside a text reads `\\n`.
      "*Assumptions*\\n• the label column is `churned`",
      "*Open questions* — answer them in the thread before approving\\n1. Which metric decides: AUC or recall@10%?",
      "*Lessons followed*\\n• Split churn data by user, never by row",
    ]) {
      expect(all).toContain(want);
    }
    expect(viewProblems(renderPlanDetails(plan, 2))).toEqual([]);
  });

  it("keeps the largest plan's details inside a modal's 100 blocks, and inside 50 as a private message", () => {
    const big = planned();
    const modal = renderPlanDetails(big.plan, big.revision);
    expect(viewProblems(modal)).toEqual([]);
    expect(texts(modal.blocks)).toContain("offline brain");
    const msg = renderPlanDetailsMessage(big.plan, big.revision);
    expect(blockProblems(msg.blocks)).toEqual([]);
  });

  it("caps any block list at 50 and keeps the trailing buttons", () => {
    const many = [...Array.from({ length: 80 }, (_, i) => section(`b${i}`)), { type: "actions" as const, elements: [] }];
    const fitted = fitBlocks(many);
    expect(fitted).toHaveLength(50);
    expect(fitted.at(-1)?.type).toBe("actions");
  });
});

describe("other messages", () => {
  const view: TaskView = {
    id: "t1",
    text: "train a baseline",
    state: "executing",
    revision: 2,
    requester: "U1",
    slack: { channel: "C1", threadTs: "1700000000.000100", messageTs: "1700000000.000100" },
    brain: "offline",
    steps: [
      { id: "s1", role: "data-engineer", title: "Clean", status: "completed", attempt: 1 },
      { id: "s2", role: "ml-engineer", title: "Train", status: "running", attempt: 2 },
    ],
    updatedAt: AT,
  };

  it("status card shows state, each step with its status, the revision and the offline label", () => {
    const all = texts(renderStatusCard(view, undefined).blocks);
    expect(all).toContain("Status: executing");
    expect(all).toContain("plan revision 2");
    expect(all).toContain("1/2 steps done");
    expect(all).toContain(":white_check_mark: *Clean*");
    expect(all).toContain("attempt 2");
    expect(all).toContain(OFFLINE_NOTE.slice(0, 30));
  });

  it("status reply lists active tasks with a thread link, or says there are none", () => {
    const text = renderStatusReply({ v: 1, ok: true, active: [view], recent: [] });
    expect(text).toContain("Active tasks (1)");
    expect(text).toContain("https://slack.com/archives/C1/p1700000000000100");
    expect(renderStatusReply({ v: 1, ok: true, active: [], recent: [] })).toContain("No active tasks");
  });

  it("a task cancelled before its steps ran does not count them as done", () => {
    const cancelled: TaskView = {
      ...view,
      state: "cancelled",
      steps: view.steps.map((st) => ({ ...st, status: "skipped" as const })),
    };
    const text = renderStatusReply({ v: 1, ok: true, active: [], recent: [cancelled] });
    expect(text).toContain("0/2 steps done (2 not run)");
  });

  it("a step started for a fix round says so, with how many findings; a plain retry says only its attempt", () => {
    const started = (attempt: number, fixing?: number): EventOf<"step.started"> => ({
      v: 1,
      eventId: `e${attempt}`,
      taskId: "t1",
      at: AT,
      type: "step.started",
      stepId: "data",
      role: "data-engineer",
      attempt,
      title: "Split the table",
      ...(fixing ? { fixing } : {}),
    });
    const fix = renderStepStarted(started(2, 2), "anthropic");
    expect(fix.text).toContain(
      "Fix round: 2 findings from the code review to address. data-engineer started Split the table (attempt 2)",
    );
    expect(texts(fix.blocks)).toContain(":wrench: Fix round: 2 findings");
    const one = renderStepStarted(started(2, 1), "anthropic");
    expect(one.text).toContain("Fix round: 1 finding from the code review");
    const rereview = renderStepStarted({ ...started(2, 2), role: "code-reviewer" }, "anthropic");
    expect(rereview.text).toContain("Re-review after the fix round: checks the 2 findings. code-reviewer started");
    const retry = renderStepStarted(started(2), "anthropic");
    expect(retry.text).not.toContain("Fix round");
    expect(texts(retry.blocks)).toContain(":arrow_forward: `data-engineer` started *Split the table* (attempt 2)");
  });

  it("a code review shows its decision, findings grouped by severity and checks", () => {
    const msg = renderStepCompleted(
      {
        v: 1,
        eventId: "e",
        taskId: "t1",
        at: AT,
        type: "step.completed",
        stepId: "s9",
        role: "code-reviewer",
        attempt: 1,
        title: "Review",
        result: {
          status: "succeeded",
          summary: "two issues",
          artifacts: [],
          metrics: {},
          filesChanged: [],
          criteria: [{ id: "ac1", criterion: "verdict given", met: true, evidence: "see below" }],
          verdict: {
            decision: "request_changes",
            summary: "leaky split",
            findings: [
              { severity: "nit", category: "documentation", message: "typo" },
              { severity: "blocker", category: "data_leakage", file: "train.py", line: 12, message: "test rows in train" },
            ],
            checks: REVIEW_PITFALLS.map((pitfall) => ({
              pitfall,
              status:
                pitfall === "data_leakage" ? ("fail" as const) : pitfall === "memory" ? ("n/a" as const) : ("pass" as const),
              evidence: pitfall === "tests" ? huge(500) : `${pitfall} looked at`,
            })),
          },
        },
      },
      "anthropic",
    );
    const all = texts(msg.blocks);
    expect(all).toContain("changes requested");
    expect(all.indexOf("Blocker (1)")).toBeLessThan(all.indexOf("Nit (1)"));
    expect(all).toContain("train.py:12");
    // Every pitfall's check in the thread, with its status and evidence.
    expect(all).toContain(":x: data leakage (fail) — data_leakage looked at");
    expect(all).toContain(":heavy_minus_sign: memory (n/a)");
    expect(all).toContain(":white_check_mark: reproducibility (pass)");
    expect(blockProblems(msg.blocks)).toEqual([]);
  });

  it("a job message shows a progress bar and last metrics, then the outcome", () => {
    const running = renderJob(
      {
        jobId: "j1",
        taskId: "t1",
        stepId: "s2",
        state: "running",
        host: "gpu-1",
        progress: { step: 5, total: 10, metrics: { loss: 0.4 } },
      },
      undefined,
    );
    expect(texts(running.blocks)).toContain("▓▓▓▓▓▓▓▓▓▓░░░░░░░░░░ 50%");
    expect(texts(running.blocks)).toContain("`loss` 0.4");
    const done = renderJob(
      {
        jobId: "j1",
        taskId: "t1",
        stepId: "s2",
        state: "finished",
        result: {
          outcome: "failed",
          exitCode: 1,
          signal: null,
          durationMs: 65_000,
          metrics: {},
          artifacts: [],
          logTail: ["boom"],
          host: "gpu-1",
        },
      },
      "offline",
    );
    expect(texts(done.blocks)).toContain("failed");
    expect(texts(done.blocks)).toContain("1m 5s");
    expect(texts(done.blocks)).toContain("boom");
    expect(texts(done.blocks)).toContain("offline brain");
  });

  it("a long final summary is split across sections within limits and labelled when offline", () => {
    const msg = renderTaskCompleted({
      v: 1,
      eventId: "e",
      taskId: "t1",
      at: AT,
      type: "task.completed",
      summary: `${huge(3500, "a")}\n\n${huge(4000, "b")}`,
      metrics: { auc: 0.91 },
      artifacts: [],
      brain: "offline",
    });
    expect(blockProblems(msg.blocks)).toEqual([]);
    const all = texts(msg.blocks);
    expect(all).toContain("`auc` 0.91");
    expect(all).toContain("offline brain");
    expect(all.split("a").length - 1).toBeGreaterThanOrEqual(3500);
  });

  it("a re-plan after a failed step says what failed and that the new plan needs approval again", () => {
    const msg = renderReplanning(
      {
        v: 1,
        eventId: "t1.9.task.replanning",
        taskId: "t1",
        at: "2026-11-25T00:00:00.000Z",
        type: "task.replanning",
        stepId: "train",
        reason: 'The ml-engineer step "Train" failed: CUDA out of memory',
      },
      "offline",
    );
    const text = JSON.stringify(msg.blocks);
    expect(text).toContain("`train` failed");
    expect(text).toContain("CUDA out of memory");
    expect(text).toContain("approval again");
    expect(text).toContain(OFFLINE_NOTE.slice(0, 30));
    expect(blockProblems(msg.blocks)).toEqual([]);
  });
});

describe("Slack-native surfaces", () => {
  const view: TaskView = {
    id: "t1",
    text: "train <!channel>",
    state: "executing",
    revision: 2,
    requester: "U1",
    slack: { channel: "C1", threadTs: "1700000000.000100", messageTs: "1700000000.000100" },
    brain: "offline",
    steps: [
      { id: "s1", role: "data-engineer", title: "Clean <data>", status: "completed", attempt: 1 },
      { id: "s2", role: "ml-engineer", title: "Train", status: "running", attempt: 2 },
      { id: "s3", role: "analyst", title: "Analyze", status: "pending", attempt: 1 },
      { id: "s4", role: "code-reviewer", title: "Review", status: "failed", attempt: 1 },
    ],
    updatedAt: AT,
  };

  it("draws the status card as a plan block whose task cards move pending → in_progress → complete", () => {
    const card = renderProgressCard(view, undefined);
    expect(blockProblems(card.blocks)).toEqual([]);
    const plan = card.blocks?.find((b) => b.type === "plan") as { tasks: { title: string; status: string }[] };
    expect(plan.tasks.map((t) => [t.title, t.status])).toEqual([
      ["Clean &lt;data&gt;", "complete"],
      ["Train", "in_progress"],
      ["Analyze", "pending"],
      ["Review", "error"],
    ]);
    expect(card.text).toContain("&lt;!channel&gt;");
    expect(texts(card.blocks)).toContain("offline brain");
    // Before there is a plan, the classic card.
    expect(renderProgressCard({ ...view, steps: [] }, undefined).blocks?.some((b) => b.type === "plan")).toBe(false);
  });

  it("streams the summary in parts and ends it with the facts and the offline label", () => {
    const { parts, end } = renderSummaryStream({
      v: 1,
      eventId: "e",
      taskId: "t1",
      at: AT,
      type: "task.completed",
      summary: "First <!here>.\n\nSecond.",
      metrics: { auc: 0.91 },
      artifacts: [],
      brain: "offline",
    });
    expect(parts.join("")).toBe("**🎉 Done — summary**\n\nFirst &lt;!here&gt;.\n\nSecond.");
    expect(blockProblems(end)).toEqual([]);
    expect(texts(end)).toContain("`auc` 0.91");
    expect(texts(end)).toContain("offline brain");
  });

  it("shares plots and small reports, links the rest, and titles each file by where it came from", () => {
    const art = (name: string, bytes: number, contentType = "application/octet-stream") => ({
      name,
      objectName: `t1/s/1/${name}`,
      contentType,
      bytes,
    });
    const artifacts = [
      art("reports/loss.png", 2000, "image/png"),
      art("reports/report.md", 900),
      art("models/model.npz", 3_000_000),
      art("reports/huge.png", 9 * 1024 * 1024, "image/png"),
    ];
    const shares = fileShares(artifacts, { label: "Analyze <x>", by: "analyst" });
    expect(shares.map((s) => [s.filename, s.title, Boolean(s.altText)])).toEqual([
      ["loss.png", "loss.png — Analyze <x>", true],
      ["report.md", "report.md — Analyze <x>", false],
    ]);
    expect(artifactsLine(artifacts)).toBe(
      "*Artifacts:* `loss.png`, `report.md` (shared below) · `models/model.npz` 2.9 MB, `reports/huge.png` 9.0 MB — kept in the Object Store `mllead_artifacts` (links need MLLEAD_PUBLIC_URL)",
    );
    expect(fileComment(shares, { label: "Analyze <x>", by: "analyst" }, "offline")).toContain("*Analyze &lt;x&gt;*");
  });

  it("builds a Home tab and an Ask @mllead box that Slack accepts", () => {
    const home = renderHome({
      status: { v: 1, ok: true, active: [view], recent: [] },
      runners: [
        {
          runnerId: "r1",
          host: "gpu-1",
          gpus: [{ index: 0, uuid: "G", name: "H100", memoryTotalMiB: 81920, memoryUsedMiB: null, utilizationPct: null }],
          cpuSlots: 1,
          runningJobs: [],
          at: AT,
        },
      ],
      agents: [],
      commands: [{ name: "status", what: "x" }],
      now: new Date(AT),
    });
    expect(homeViewProblems(home)).toEqual([]);
    expect(texts(home.blocks)).toContain("Your active tasks (1)");
    expect(texts(home.blocks)).toContain("*gpu-1* — 1 GPU · idle");
    const meta = { channel: "C1", messageTs: "1.1", threadTs: "1.1", author: "U2", text: huge(5000, "m") };
    const modal = renderAskModal(meta);
    expect(viewProblems(modal)).toEqual([]);
    expect(modal.private_metadata?.length).toBeLessThanOrEqual(3000);
    expect(askTaskText("why?", meta).length).toBeLessThanOrEqual(4000);
  });
});

import type { EventOf, Plan, Step, TaskView } from "@mllead/contracts";
import { blockProblems, SLACK_LIMITS } from "@mllead/slack-sandbox";
import { describe, expect, it } from "vitest";
import { fitBlocks, OFFLINE_NOTE, section } from "./blocks.js";
import { renderJob } from "./jobs.js";
import { PLAN_ACTIONS, parsePlanButtonValue, renderPlan } from "./plan.js";
import { renderStatusCard, renderStatusReply } from "./status.js";
import { renderStepCompleted } from "./steps.js";
import { renderReplanning, renderTaskCompleted } from "./task-lines.js";

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

  it("shows each step's handoff: role, objective, requirements, criteria as checkboxes, next handoff, dependencies", () => {
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
    const all = texts(renderPlan(small).blocks);
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
    expect(all).not.toContain("offline brain");
    const value = renderPlan(small).blocks?.find((b) => b.type === "actions");
    const button = (value as { elements: { value: string }[] }).elements[0];
    expect(parsePlanButtonValue(button?.value)).toEqual({ t: "t1", r: 3 });
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
            checks: Array.from({ length: 20 }, () => ({
              category: "reproducibility" as const,
              passed: false,
              detail: huge(500),
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

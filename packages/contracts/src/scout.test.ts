import { describe, expect, it } from "vitest";
import { StepWork } from "./commands.js";
import { Plan } from "./plan.js";
import { renderScoutReport, ScoutReport, scoutTokens } from "./scout.js";
import { answersFeedback, isAnswersFeedback, openQuestions, TaskRecord } from "./task.js";
import { testPlan, testStep, testStepWork, testTaskRecord } from "./testing/index.js";

const report: ScoutReport = {
  repo: { label: "/srv/team-repo", ref: "HEAD", commit: "0123456789abcdef0123456789abcdef01234567" },
  tree: {
    entries: [
      { path: "README.md", kind: "file", bytes: 120 },
      { path: "src", kind: "dir", bytes: 5_300, files: 4 },
    ],
    totalFiles: 5,
    truncated: false,
  },
  docs: [{ path: "README.md", head: "# Churn\nPredict churn from the customers table.", truncated: false }],
  commits: [{ sha: "0123456789abcdef", date: "2026-12-01", subject: "add the loader" }],
  dataDirs: [
    {
      path: "/data/team",
      files: [{ path: "customers.csv", bytes: 5_400_000, head: ["id,tenure,churned", "1,12,0"] }],
      truncated: false,
      missing: false,
    },
  ],
  python: {
    env: "/opt/venvs/team",
    interpreter: "/opt/venvs/team/bin/python (Python 3.11)",
    packages: [{ name: "torch", version: "2.5.1" }],
  },
  runners: [{ host: "gpu-1", cpuSlots: 2, gpus: [{ name: "NVIDIA H100", memoryMiB: 81_559 }] }],
  notes: [],
};

describe("contracts: the scout's report and a plan's questions", () => {
  it("renders every part of the report for the planner, and measures it the way the scout does", () => {
    const text = renderScoutReport(ScoutReport.parse(report));
    for (const part of [
      "/srv/team-repo at HEAD (commit 0123456789ab)",
      "src/ (4 files, 5.2 KB)",
      "### README.md",
      "Predict churn",
      "2026-12-01 add the loader",
      "customers.csv (5.1 MB)",
      "| id,tenure,churned",
      "torch 2.5.1",
      "gpu-1: NVIDIA H100 80 GiB; 2 CPU job slots",
    ])
      expect(text).toContain(part);
    expect(scoutTokens(report)).toBe(Math.ceil(text.length / 4));
  });

  it("parses plans, work orders and task records written before assumptions, questions, briefs and answers", () => {
    const plan = testPlan([testStep("data", "data-engineer"), testStep("review", "code-reviewer", { dependsOn: ["data"] })]);
    const old = Plan.parse(JSON.parse(JSON.stringify(plan)));
    expect(old.assumptions).toBeUndefined();
    expect(old.questions).toBeUndefined();
    const { brief: _none, ...oldWork } = testStepWork(plan.steps[0] as Plan["steps"][number]);
    expect(StepWork.parse(oldWork).brief).toBeUndefined();
    const record = TaskRecord.parse(JSON.parse(JSON.stringify(testTaskRecord({ plan, steps: {} }))));
    expect(record.answers).toBeUndefined();
    expect(openQuestions(record)).toEqual([]);
  });

  it("keeps open the questions of the current revision that have no answer, and words the answers for the revision", () => {
    const plan = testPlan([testStep("data", "data-engineer")], {
      questions: [
        { id: "table", text: "Which table?" },
        { id: "metric", text: "Which metric?" },
      ],
    });
    const at = "2026-12-07T12:00:00.000Z";
    const task = testTaskRecord({
      plan,
      steps: {},
      revision: 2,
      answers: [
        { revision: 1, questionId: "metric", text: "old", userId: "U1", at },
        { revision: 2, questionId: "table", text: "customers", userId: "U1", at },
      ],
    });
    expect(openQuestions(task).map((q) => q.id)).toEqual(["metric"]);
    const text = answersFeedback(task);
    expect(isAnswersFeedback(text)).toBe(true);
    expect(text).toBe(
      "Answers to the plan's questions:\n- table: Which table? → customers\n- metric: Which metric? → (no answer)",
    );
  });
});

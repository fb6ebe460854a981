import { answersFeedback, type ScoutReport, validatePlan } from "@mllead/contracts";
import { testTaskRecord } from "@mllead/contracts/testing";
import { describe, expect, it } from "vitest";
import { DEMO_DATA_CHOICE } from "./plan-context.js";
import { offlinePlan } from "./planner.js";

const context = {
  dataDirs: [
    {
      path: "/data/team",
      files: [
        { path: "customers.csv", bytes: 10 },
        { path: "notes.txt", bytes: 3 },
        { path: "events/2026.parquet", bytes: 99 },
      ],
      truncated: false,
      missing: false,
    },
  ],
} as unknown as ScoutReport;

describe("offline planner: what it assumes, and the one question it asks", () => {
  it("says what it assumes: synthetic data always, the demo table and label when none is named", () => {
    const named = offlinePlan("train a baseline on the `analytics.customers` table to predict churn");
    expect(named.assumptions).toEqual([
      expect.stringMatching(
        /shipped demo pipeline on a deterministic synthetic churn-like table standing in for `analytics.customers`; every metric is synthetic/,
      ),
    ]);
    expect(named.questions).toBeUndefined();
    const unnamed = offlinePlan("train a logistic regression for 20 epochs");
    expect(unnamed.assumptions?.join("\n")).toMatch(
      /No table was named.*`customers`[\s\S]*No label was named: the target is `churned`/,
    );
    expect(unnamed.questions).toBeUndefined();
  });

  it("asks which data for a clearly ambiguous request, offering the tables the scout found and the demo data", () => {
    const plan = offlinePlan("improve the model", [], [], context);
    expect(validatePlan(plan)).toEqual([]);
    expect(plan.questions).toEqual([
      {
        id: "data",
        text: expect.stringMatching(/Which table/),
        choices: ["customers.csv", "events/2026.parquet", DEMO_DATA_CHOICE],
      },
    ]);
    expect(offlinePlan("improve the model").questions?.[0]?.choices).toEqual([DEMO_DATA_CHOICE]);
  });

  it("plans with the answer and asks nothing more; the answer adds no criterion the offline specialists cannot check", () => {
    const first = offlinePlan("improve the model", [], [], context);
    const task = testTaskRecord({
      plan: first,
      steps: {},
      revision: 1,
      answers: [{ revision: 1, questionId: "data", text: "customers.csv", userId: "U1", at: "2026-12-07T12:00:00.000Z" }],
    });
    const revised = offlinePlan("improve the model", [answersFeedback(task)], [], context);
    expect(revised.questions).toBeUndefined();
    expect(revised.summary).toMatch(/You answered: customers.csv \(the steps now work on `customers.csv`\)/);
    const data = revised.steps.find((s) => s.id === "data");
    expect(data?.params.dataset).toBe("customers.csv");
    expect(revised.steps.map((s) => s.acceptanceCriteria.length)).toEqual(first.steps.map((s) => s.acceptanceCriteria.length));
  });
});

import type { TaskRecord } from "@mllead/contracts";
import { FIXTURE_NOW, testPlan, testStep, testTaskRecord } from "@mllead/contracts/testing";
import { describe, expect, it } from "vitest";
import { jobRefusal } from "./task-records.js";

/** A task whose `train` step runs (attempt 2) and whose `eval` step waits. */
const task: TaskRecord = testTaskRecord({
  text: "train",
  plan: testPlan([testStep("train", "ml-engineer", { title: "train" }), testStep("eval", "analyst", { title: "eval" })]),
  steps: {
    train: { status: "running", attempt: 2, startedAt: FIXTURE_NOW, findings: [] },
    eval: { status: "pending", attempt: 1, findings: [] },
  },
});

describe("gpu-runner: a job runs only for the step attempt that asked for it", () => {
  it("takes the running attempt's job, and a job of a task the tech lead does not know", () => {
    expect(jobRefusal(task, { stepId: "train", attempt: 2 })).toBeNull();
    expect(jobRefusal(null, { stepId: "train", attempt: 1 })).toBeNull();
  });

  it("refuses a job for another attempt, a step never dispatched, a step not in the plan, a finished task", () => {
    expect(jobRefusal(task, { stepId: "train", attempt: 1 })).toMatch(/attempt 1/);
    expect(jobRefusal(task, { stepId: "eval", attempt: 1 })).toMatch(/never dispatched/);
    expect(jobRefusal(task, { stepId: "deploy", attempt: 1 })).toMatch(/not in the task's plan/);
    expect(jobRefusal({ ...task, state: "done" }, { stepId: "train", attempt: 2 })).toBe("the task is done");
  });

  it("after a cancellation, takes only the dispatched attempt's job (to report it cancelled)", () => {
    const cancelled: TaskRecord = {
      ...task,
      state: "cancelled",
      steps: {
        train: { ...(task.steps.train as TaskRecord["steps"][string]), status: "skipped" },
        eval: { status: "skipped", attempt: 1, findings: [] },
      },
    };
    expect(jobRefusal(cancelled, { stepId: "train", attempt: 2 })).toBeNull();
    expect(jobRefusal(cancelled, { stepId: "eval", attempt: 1 })).toMatch(/never dispatched/);
    expect(jobRefusal(cancelled, { stepId: "train", attempt: 3 })).toMatch(/never dispatched/);
  });
});

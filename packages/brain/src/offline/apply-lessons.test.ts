import { type Lesson, type Plan, validatePlan } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { lessonsFromChangeRequest } from "../lesson-drafts.js";
import { lessonRequirement } from "./apply-lessons.js";
import { offlinePlan } from "./planner.js";

const at = "2025-01-01T00:00:00.000Z";

/** A stored lesson as the tech lead keeps it. */
function lesson(id: string, rule: string, extra: Partial<Lesson> = {}): Lesson {
  return {
    id,
    channel: "C1",
    rule,
    roles: [],
    source: { kind: "change_request", taskId: "tOld", text: rule },
    by: "U1",
    at,
    lastAt: at,
    times: 1,
    ...extra,
  };
}

/** The lesson a change request teaches, as recorded. */
function taught(id: string, request: string): Lesson {
  const [draft] = lessonsFromChangeRequest(request);
  if (!draft) throw new Error(`no lesson in ${request}`);
  return lesson(id, draft.rule, { ...(draft.setting ? { setting: draft.setting } : {}), roles: draft.roles });
}

const step = (p: Plan, id: string) => {
  const s = p.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
};

describe("offline planner: the channel's lessons", () => {
  const text = "train a churn model on the customers table";

  it("applies a setting lesson like a change request and lists it as applied", () => {
    const l1 = taught("L1", "use 20 epochs");
    const plan = offlinePlan(text, [], [l1]);
    expect(validatePlan(plan)).toEqual([]);
    expect(step(plan, "train").params.epochs).toBe(20);
    expect(step(plan, "train").title).toContain("20 epochs");
    expect(plan.lessonsApplied).toEqual([{ id: "L1", text: "Train for 20 epochs unless told otherwise" }]);
    // The same as asking for it in plan review, as far as the training step goes.
    expect(step(plan, "train").params).toEqual(step(offlinePlan(text, ["use 20 epochs"]), "train").params);
  });

  it("lists nothing and changes nothing without lessons", () => {
    expect(offlinePlan(text, [], [])).toEqual(offlinePlan(text));
    expect(offlinePlan(text).lessonsApplied).toBeUndefined();
  });

  it("lets the task's own words and a person's feedback win over a lesson about the same setting", () => {
    const l1 = taught("L1", "use 20 epochs");
    const own = offlinePlan("train a churn model for 5 epochs", [], [l1]);
    expect(step(own, "train").params.epochs).toBe(5);
    expect(own.lessonsApplied).toBeUndefined();
    const asked = offlinePlan(text, ["use 30 epochs"], [l1]);
    expect(step(asked, "train").params.epochs).toBe(30);
    expect(asked.lessonsApplied).toBeUndefined();
  });

  it("keeps a setting lesson through a re-plan after a failed step (the tech lead's words name no setting of the person's)", () => {
    const l1 = taught("L1", "use 20 epochs");
    const failure =
      'The ml-engineer step "Train" failed: The job completes 20 epochs without errors: not met. Re-plan so the task can still succeed.';
    const plan = offlinePlan(text, [failure], [l1]);
    expect(step(plan, "train").params.epochs).toBe(20);
    expect(plan.lessonsApplied?.map((l) => l.id)).toEqual(["L1"]);
  });

  it("does not apply a training lesson to a plan without training", () => {
    const plan = offlinePlan("explore the events dataset", [], [taught("L1", "use 20 epochs")]);
    expect(plan.steps.some((s) => s.role === "ml-engineer")).toBe(false);
    expect(plan.lessonsApplied).toBeUndefined();
  });

  it("uses the newest lesson about a setting", () => {
    const plan = offlinePlan(text, [], [taught("L1", "use 20 epochs"), taught("L2", "train for 40 epochs")]);
    expect(step(plan, "train").params.epochs).toBe(40);
    expect(plan.lessonsApplied?.map((l) => l.id)).toEqual(["L2"]);
  });

  it("shows any other lesson as a requirement of the steps it concerns, never as a criterion", () => {
    const scaler = lesson("L3", "Fit the scaler on the train split only", {
      roles: ["ml-engineer"],
      source: {
        kind: "review_finding",
        taskId: "tOld",
        text: "StandardScaler fit before the split",
        severity: "blocker",
        category: "data_leakage",
        stepId: "train",
      },
      by: "code-reviewer",
    });
    const report = taught("L4", "also report precision at the top 10% of scores");
    const plan = offlinePlan(text, [], [scaler, report]);
    expect(validatePlan(plan)).toEqual([]);
    expect(step(plan, "train").requirements).toContain(lessonRequirement(scaler));
    expect(step(plan, "data").requirements).not.toContain(lessonRequirement(scaler));
    expect(step(plan, "analyze").requirements).toContain(lessonRequirement(report));
    expect(plan.steps.flatMap((s) => s.acceptanceCriteria.map((c) => c.text)).join("\n")).not.toContain("Lesson");
    expect(plan.lessonsApplied).toEqual([
      { id: "L3", text: "Fit the scaler on the train split only" },
      { id: "L4", text: "Also report precision at the top 10% of scores" },
    ]);
  });

  it("never grows a step past the contract's 20 requirements", () => {
    const many = Array.from({ length: 12 }, (_, i) => lesson(`L${i + 1}`, `Rule number ${i + 1} for every step`));
    const plan = offlinePlan(text, [], many);
    expect(validatePlan(plan)).toEqual([]);
    for (const s of plan.steps) expect(s.requirements.length).toBeLessThanOrEqual(20);
    expect(plan.lessonsApplied?.length).toBe(5);
  });
});

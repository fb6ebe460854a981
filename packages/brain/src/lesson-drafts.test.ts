import { describe, expect, it } from "vitest";
import { lessonFromFinding, lessonsFromChangeRequest } from "./lesson-drafts.js";
import { createOfflineBrain } from "./offline/brain.js";

describe("lessons from a change request", () => {
  it("turns a setting into a rule carrying the setting: 'use 20 epochs' → 'Train for 20 epochs unless told otherwise'", () => {
    expect(lessonsFromChangeRequest("use 20 epochs")).toEqual([
      { rule: "Train for 20 epochs unless told otherwise", setting: { name: "epochs", value: 20 }, roles: [] },
    ]);
  });

  it("makes one lesson per setting named", () => {
    const drafts = lessonsFromChangeRequest("changes: lr 0.05, batch size 64, seed 7 and use an MLP");
    expect(drafts.map((d) => d.setting)).toEqual([
      { name: "learningRate", value: 0.05 },
      { name: "batchSize", value: 64 },
      { name: "seed", value: 7 },
      { name: "model", value: "mlp" },
    ]);
    expect(drafts.map((d) => d.rule)).toContain("Use a one-hidden-layer MLP unless told otherwise");
  });

  it("keeps any other request as one imperative rule in the person's words", () => {
    expect(lessonsFromChangeRequest("changes: please also report precision at the top 10% of scores. Thanks!")).toEqual([
      { rule: "Also report precision at the top 10% of scores", roles: [] },
    ]);
    // "not an MLP" is no lesson to use one.
    expect(lessonsFromChangeRequest("don't use an MLP here")[0]).toEqual({ rule: "Don't use an MLP here", roles: [] });
  });

  it("learns nothing from a request about that plan only: dropping a step, naming a table, too short", () => {
    expect(lessonsFromChangeRequest("skip the analysis")).toEqual([]);
    expect(lessonsFromChangeRequest("use the orders table instead")).toEqual([]);
    expect(lessonsFromChangeRequest("ok?")).toEqual([]);
  });

  it("bounds a rule to 200 characters", () => {
    const [draft] = lessonsFromChangeRequest(`make sure that ${"every plot is labelled ".repeat(30)}`);
    expect(draft?.rule.length).toBe(200);
    expect(draft?.rule.endsWith("…")).toBe(true);
  });
});

describe("lessons from a reviewer's finding", () => {
  it("states the rule of the pitfall, sharpened by the finding's words, for the role that owned the code", () => {
    expect(
      lessonFromFinding(
        { category: "data_leakage", message: "StandardScaler is fit on the full table before the split (train.py:42)." },
        "ml-engineer",
      ),
    ).toEqual({ rule: "Fit the scaler on the train split only", roles: ["ml-engineer"] });
    expect(lessonFromFinding({ category: "data_leakage", message: "mean imputation uses all rows" }).rule).toBe(
      "Fit imputation on the train split only",
    );
    expect(lessonFromFinding({ category: "reproducibility", message: "default_rng() without a seed" }).rule).toBe(
      "Seed every source of randomness and record the seed",
    );
    expect(
      lessonFromFinding({ category: "numerical_stability", message: "1/(1+exp(-z)) overflows; use a stable sigmoid" }).rule,
    ).toBe("Use a numerically stable sigmoid");
    expect(lessonFromFinding({ category: "tests", message: "No tests accompany jobs/train.py" }).rule).toBe(
      "Write unit tests for every changed module",
    );
    expect(lessonFromFinding({ category: "other", message: "the CLI ignores --out" }).rule).toBe(
      "Avoid what the reviewer found before: The CLI ignores --out",
    );
  });
});

describe("the offline brain's learn, behind the Brain port", () => {
  it("marks a change for this task only as one-off, anything else standing", async () => {
    const brain = createOfflineBrain();
    const learn = (feedback: string) => brain.learn({ taskId: "t1", feedback, lessons: [] });
    expect(await learn("use 30 epochs for this one")).toEqual([
      { scope: "one-off", rule: "Train for 30 epochs unless told otherwise", setting: { name: "epochs", value: 30 }, roles: [] },
    ]);
    expect(await learn("always fit the scaler on train only")).toEqual([
      { scope: "standing", rule: "Always fit the scaler on train only", roles: [] },
    ]);
    const finding = { severity: "blocker" as const, category: "data_leakage" as const, message: "scaler fit on all rows" };
    expect(await brain.lessonFromFinding({ taskId: "t1", finding, ownerRole: "data-engineer", lessons: [] })).toEqual({
      scope: "standing",
      rule: "Fit the scaler on the train split only",
      roles: ["data-engineer"],
    });
  });
});

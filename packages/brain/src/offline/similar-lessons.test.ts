import type { LearnedLesson, Lesson } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { markReinforced, similarLessons } from "./similar-lessons.js";

function kept(id: string, rule: string, setting?: Lesson["setting"]): Lesson {
  return {
    id,
    channel: "C1",
    rule,
    ...(setting ? { setting } : {}),
    roles: [],
    source: { kind: "change_request", taskId: "t1", text: rule },
    by: "U1",
    at: "2025-01-01T00:00:00.000Z",
    lastAt: "2025-01-01T00:00:00.000Z",
    times: 1,
  };
}

describe("the offline brain's lesson similarity", () => {
  it("tells different pitfalls apart and merges the same one", () => {
    const scaler = { rule: "Fit the scaler on the train split only" };
    const imputer = { rule: "Fit imputation on the train split only" };
    expect(similarLessons(scaler, imputer)).toBe(false);
    expect(similarLessons(scaler, { rule: "Always fit the scaler on the train split only" })).toBe(true);
    expect(
      similarLessons({ rule: "Train for 20 epochs" }, { rule: "Train for 20 epochs", setting: { name: "epochs", value: 20 } }),
    ).toBe(false);
  });

  it("names the kept lesson a new one says again, by rule or by setting, and nothing for a new rule", () => {
    const book = [
      kept("L1", "Train for 20 epochs unless told otherwise", { name: "epochs", value: 20 }),
      kept("L2", "Report precision at the top 10% of scores"),
    ];
    const marked = markReinforced<LearnedLesson>(
      [
        {
          scope: "standing",
          rule: "Train for 30 epochs unless told otherwise",
          setting: { name: "epochs", value: 30 },
          roles: [],
        },
        { scope: "standing", rule: "Also report precision at the top 10% of scores", roles: [] },
        { scope: "standing", rule: "Plot the ROC curve", roles: [] },
      ],
      book,
    );
    expect(marked.map((l) => l.reinforces)).toEqual(["L1", "L2", undefined]);
  });
});

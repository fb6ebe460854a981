import type { Lesson } from "@mllead/contracts";
import { testPlan, testStep } from "@mllead/contracts/testing";
import { describe, expect, it } from "vitest";
import { lessonRequirement } from "../offline/apply-lessons.js";
import { citeLessons } from "./cite-lessons.js";

const at = "2026-01-01T00:00:00.000Z";
const lesson = (id: string, rule: string, extra: Partial<Lesson> = {}): Lesson => ({
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
});

const plan = testPlan([
  testStep("data", "data-engineer"),
  testStep("train", "ml-engineer", { dependsOn: ["data"] }),
  testStep("review", "code-reviewer", { dependsOn: ["data", "train"] }),
]);

describe("citing lessons in a Claude plan", () => {
  it("writes each cited lesson into the steps it affects, by its roles or its setting, never by its words", () => {
    const scaler = lesson("L1", "Fit the scaler on the train split only", { roles: ["data-engineer"] });
    const epochs = lesson("L2", "Train for 20 epochs unless told otherwise", { setting: { name: "epochs", value: 20 } });
    const seed = lesson("L3", "Fix the seed to 7", { setting: { name: "seed", value: 7 } });
    const out = citeLessons(
      {
        ...plan,
        lessonsApplied: [
          { id: "L1", text: scaler.rule },
          { id: "L2", text: epochs.rule },
          { id: "L3", text: seed.rule },
        ],
      },
      [scaler, epochs, seed],
    );
    const req = (id: string) => out.steps.find((s) => s.id === id)?.requirements ?? [];
    expect(req("data")).toEqual(["r", lessonRequirement(scaler), lessonRequirement(seed)]);
    expect(req("train")).toEqual(["r", lessonRequirement(epochs), lessonRequirement(seed)]);
    expect(req("review")).toEqual(["r"]);
    expect(out.lessonsApplied?.map((l) => l.id)).toEqual(["L1", "L2", "L3"]);
  });

  it("stops citing a lesson that lands on no step, and leaves an uncited plan alone", () => {
    const analyst = lesson("L4", "Label every plot", { roles: ["analyst"] });
    const out = citeLessons({ ...plan, lessonsApplied: [{ id: "L4", text: analyst.rule }] }, [analyst]);
    expect(out.lessonsApplied).toBeUndefined();
    expect(out.steps.flatMap((s) => s.requirements)).toEqual(["r", "r", "r"]);
    expect(citeLessons(plan, [analyst])).toBe(plan);
  });
});

import { stepBrief } from "@mllead/contracts";
import { testPlan, testStep, testStepWork } from "@mllead/contracts/testing";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import type { StepTools } from "../types.js";
import { DEFAULT_STEP_LIMITS } from "./step-limits.js";
import { briefLines, limitsLines, stepPrompt } from "./step-prompt.js";

const tools = { root: "/work/t1", log: createLogger("test", "silent") } as unknown as StepTools;
const step = testStep("train", "ml-engineer");
const plan = testPlan([step], {
  summary: "Train a baseline on the churn table, then review.",
  track: "production",
  assumptions: ["The label column is churned."],
  risks: [{ risk: "Leakage through the scaler.", mitigation: "Fit it on the train split only." }],
  lessonsApplied: [{ id: "L2", text: "Always report AUC next to the baseline." }],
});

describe("Claude step prompt: the plan around the step and the loop's limits", () => {
  it("shows the plan's summary, track, assumptions, risks with mitigations and lessons", () => {
    const prompt = stepPrompt(testStepWork(step, { brief: stepBrief(plan) }), tools);
    for (const part of [
      "## The plan this step belongs to",
      "Train a baseline on the churn table, then review.",
      "Track: production: bias to correctness",
      "- The label column is churned.",
      "- Leakage through the scaler. → Fit it on the train split only.",
      "- L2: Always report AUC next to the baseline.",
    ])
      expect(prompt).toContain(part);
    expect(briefLines(testStepWork(step))).toEqual([]);
  });

  it("states the requests, tokens and time a step may use", () => {
    expect(limitsLines(DEFAULT_STEP_LIMITS).join("\n")).toMatch(
      /at most 60 model requests and use 4,000,000 tokens .* within 6 h of wall-clock time/,
    );
    expect(limitsLines({ maxIterations: 5, tokenBudget: 1000, timeLimitMs: 90_000 }).join("\n")).toMatch(
      /5 model requests.*1,000 tokens.*2 min/,
    );
  });
});

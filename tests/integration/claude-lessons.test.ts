import { createBrain } from "@mllead/brain";
import type { Lesson, Plan } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../helpers/fake-anthropic.js";

const log = createLogger("test", "silent");

const step = (id: string, role: Plan["steps"][number]["role"], dependsOn: string[]) => ({
  id,
  role,
  title: `${role} work`,
  objective: "Do the work",
  context: "The churn table",
  requirements: ["Fix the seed"],
  acceptanceCriteria: [{ id: "ac1", text: "Runs without errors" }],
  params: role === "ml-engineer" ? { epochs: 20 } : {},
  nextHandoff: { to: "tech-lead", reason: "report back" },
  dependsOn,
  changesCode: role !== "code-reviewer",
  usesGpu: role === "ml-engineer",
});

const at = "2025-01-01T00:00:00.000Z";
const lessons: Lesson[] = [
  {
    id: "L1",
    channel: "C1",
    rule: "Train for 20 epochs unless told otherwise",
    setting: { name: "epochs", value: 20 },
    roles: [],
    source: { kind: "change_request", taskId: "tOld", text: "use 20 epochs" },
    by: "U1",
    at,
    lastAt: at,
    times: 1,
  },
  {
    id: "L2",
    channel: "C1",
    rule: "Fit the scaler on the train split only",
    roles: ["ml-engineer"],
    source: {
      kind: "review_finding",
      taskId: "tOld",
      text: "scaler fit before split",
      severity: "blocker",
      category: "data_leakage",
    },
    by: "code-reviewer",
    at,
    lastAt: at,
    times: 1,
  },
];

describe("Claude planner: the channel's lessons", () => {
  it("puts the lessons in the prompt, asks for lessonsApplied in the schema, and keeps only lessons it was given, in their words", async () => {
    const answer = {
      summary: "Train a baseline for 20 epochs, review",
      scope: "multi-agent",
      risks: [],
      steps: [step("train", "ml-engineer", []), step("review", "code-reviewer", ["train"])],
      // A reworded lesson, an invented one and a repeat: the plan keeps L1 once, as stored.
      lessonsApplied: [
        { id: "L1", text: "train 20 epochs" },
        { id: "L9", text: "made up" },
        { id: "L1", text: "again" },
      ],
    };
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(answer) }));
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const plan = await brain.plan({ taskId: "t1", text: "train a churn baseline", requester: { userId: "U1" }, lessons });
    expect(plan.lessonsApplied).toEqual([{ id: "L1", text: "Train for 20 epochs unless told otherwise" }]);

    const sent = api.requests[0]?.body;
    const prompt = JSON.stringify(sent?.messages);
    expect(prompt).toContain("- L1: Train for 20 epochs unless told otherwise (setting epochs = 20)");
    expect(prompt).toContain("- L2: Fit the scaler on the train split only [concerns ml-engineer]");
    expect(prompt).toContain("lessonsApplied");
    expect(JSON.stringify(sent?.output_config?.format?.schema)).toContain("lessonsApplied");
  });

  it("says nothing of lessons when the channel has none", async () => {
    const answer = {
      summary: "Train, review",
      scope: "multi-agent",
      risks: [],
      steps: [step("train", "ml-engineer", []), step("review", "code-reviewer", ["train"])],
      lessonsApplied: [{ id: "L1", text: "made up" }],
    };
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(answer) }));
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const plan = await brain.plan({ taskId: "t1", text: "train a churn baseline", requester: { userId: "U1" } });
    expect(plan.lessonsApplied).toBeUndefined();
    expect(JSON.stringify(api.requests[0]?.body.messages)).not.toContain("Lessons this team recorded");
  });
});

import { createBrain, createLocalTools, PlanRejectedError } from "@mllead/brain";
import { type Plan, type StepWork, validatePlan } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../helpers/fake-anthropic.js";

const log = createLogger("test", "silent");

const step = (id: string, role: Plan["steps"][number]["role"], dependsOn: string[], changesCode = false) => ({
  id,
  role,
  title: `${role} work`,
  objective: "Do the work",
  context: "The churn table",
  requirements: ["Fix the seed"],
  acceptanceCriteria: [{ id: "ac1", text: "Runs without errors" }],

  params: {},
  nextHandoff: { to: "tech-lead", reason: "report back" },
  dependsOn,
  changesCode,
  usesGpu: role === "ml-engineer",
});

const goodPlan = {
  summary: "Prepare the churn table, train a baseline, review",
  scope: "multi-agent",
  risks: [{ risk: "leakage", mitigation: "split before fitting transforms" }],
  steps: [
    step("data", "data-engineer", [], true),
    step("train", "ml-engineer", ["data"], true),
    step("review", "code-reviewer", ["data", "train"]),
  ],
};
const noReview = { ...goodPlan, steps: goodPlan.steps.slice(0, 2) };

const request = { taskId: "t1", text: "train a baseline on the churn table", requester: { userId: "U1" } };

describe("Claude brain through the real SDK against a local Messages API", () => {
  it("plans with structured output, the tech lead's prompt cached, the agent's model resolved", async () => {
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(goodPlan) }));
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const plan = await brain.plan(request);
    expect(plan.brain).toBe("anthropic");
    expect(validatePlan(plan)).toEqual([]);
    const sent = api.requests[0]?.body;
    expect(sent?.model).toBe("claude-opus-5-5");
    const system = sent?.system as { text: string; cache_control?: { type: string } }[];
    expect(system[0]?.cache_control).toEqual({ type: "ephemeral" });
    expect(system[0]?.text).toMatch(/never implement/i);
    expect(sent?.output_config?.format?.type).toBe("json_schema");
    expect(JSON.stringify(sent?.output_config?.format?.schema)).toContain("acceptanceCriteria");
    expect(JSON.stringify(sent?.messages)).toContain("churn table");
  });

  it("sends a plan that breaks the rules back with the problems, and uses the repaired one", async () => {
    await using api = await startFakeAnthropic();
    api.enqueue({ text: JSON.stringify(noReview) }, { text: JSON.stringify(goodPlan) });
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const plan = await brain.plan(request);
    expect(plan.steps.map((s) => s.id)).toEqual(["data", "train", "review"]);
    expect(api.requests).toHaveLength(2);
    const repair = api.requests[1]?.body.messages ?? [];
    expect(repair.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(String(repair[2]?.content)).toMatch(/code-reviewer step: it is the mandatory quality gate/);
  });

  it("gives up with a clear error when repairs do not fix the plan", async () => {
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(noReview) }));
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    await expect(brain.plan(request)).rejects.toThrow(PlanRejectedError);
    expect(api.requests).toHaveLength(3);
  });

  it("retries an overloaded API (529) and passes revisions the feedback", async () => {
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(goodPlan) }));
    api.enqueue({ status: 529, type: "overloaded_error", message: "Overloaded", retryAfter: 0 });
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    const first = await brain.plan(request);
    await brain.plan({ ...request, previous: { plan: first, feedback: ["train for 20 epochs"] } });
    expect(api.requests).toHaveLength(3);
    expect(JSON.stringify(api.requests[2]?.body.messages)).toContain("train for 20 epochs");
  });

  it("surfaces a rejected key as an authentication error", async () => {
    await using api = await startFakeAnthropic();
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: "sk-ant-wrong", baseURL: api.url } });
    await expect(brain.plan(request)).rejects.toMatchObject({ status: 401 });
  });

  it("reviews the changed code with Claude and keeps the automated checks as evidence", async () => {
    const verdict = {
      decision: "request_changes",
      summary: "The scaler is fitted before the split.",
      findings: [
        {
          severity: "major",
          category: "data_leakage",
          file: "pipeline/prepare_data.py",
          message: "fit on train only",
          ownerStepId: "data",
        },
      ],
      checks: [],
    };
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(verdict) }));
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    await using tools = await createLocalTools({ taskId: "t1" });
    const plan = { ...goodPlan, brain: "anthropic" } as Plan;
    const base = {
      v: 1 as const,
      taskId: "t1",
      attempt: 1,
      task: { text: request.text, requester: request.requester, slack: { channel: "C", threadTs: "1", messageTs: "1" } },
      upstream: [],
      findings: [],
      reviewScope: [],
      brain: "anthropic" as const,
    };
    const dataStep = plan.steps[0] as Plan["steps"][number];
    // The data step runs for real (the built-in executor) and leaves its code as artifacts.
    const data = await brain.runStep({ ...base, stepId: "data", role: "data-engineer", step: dataStep }, tools);
    expect(data.status).toBe("succeeded");
    const reviewStep = plan.steps[2] as Plan["steps"][number];
    const work: StepWork = {
      ...base,
      stepId: "review",
      role: "code-reviewer",
      step: reviewStep,
      reviewScope: [{ stepId: "data", role: "data-engineer", title: dataStep.title, result: data }],
    };
    const result = await brain.runStep(work, tools);
    expect(result.verdict?.decision).toBe("request_changes");
    expect(result.verdict?.findings[0]?.ownerStepId).toBe("data");
    expect(result.verdict?.checks.length).toBeGreaterThan(0);
    const sent = JSON.stringify(api.requests.at(-1)?.body.messages);
    expect(sent).toContain("prepare_data.py");
    expect(sent).toContain("def ");
  });
});

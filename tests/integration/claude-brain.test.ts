import { createBrain, createLocalTools, PlanRejectedError, type Transcript } from "@mllead/brain";
import { type Plan, type StepWork, validatePlan } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { type FakeAnthropic, scripted, startFakeAnthropic, stopWith, text, toolUse, turn } from "../helpers/fake-anthropic.js";

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

  it("a specialist step is a Claude tool loop (the SDK's tool runner): its prompt cached, its tools from the agent file, FinishStep's result", async () => {
    await using api = await startFakeAnthropic(
      scripted(
        turn(text("Writing the script."), toolUse("Write", { file_path: "prep.py", content: "print('rows=3')\n" })),
        turn(toolUse("Bash", { command: "python3 prep.py" })),
        (conv) =>
          turn(
            toolUse("FinishStep", {
              summary: "prep.py runs",
              criteria: [
                {
                  id: "ac1",
                  met: conv.toolResults[0]?.text.includes("rows=3") ?? false,
                  evidence: conv.toolResults[0]?.text ?? "",
                },
              ],
              metrics: { rows: 3 },
            }),
          ),
      ),
    );
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    await using tools = await createLocalTools({ taskId: "t1" });
    const result = await brain.runStep(work("data", "data-engineer"), tools);
    expect(result).toMatchObject({ status: "succeeded", summary: "prep.py runs", metrics: { rows: 3 } });
    expect(result.criteria).toEqual([
      { id: "ac1", criterion: "Runs without errors", met: true, evidence: "rows=3\n[exit code 0]" },
    ]);
    expect(result.usage).toMatchObject({ requests: 3, toolCalls: 3 });
    expect(await tools.readFile("prep.py")).toBe("print('rows=3')\n");
    const first = api.requests[0]?.body;
    expect(first?.model).toBe("claude-sonnet-5-5");
    // The agent file's tools line (Read, Write, Edit, Bash, Glob, Grep) plus FinishStep; cached with the system prompt.
    expect(first?.tools?.map((t) => t.name)).toEqual(["Read", "Write", "Edit", "Glob", "Grep", "Bash", "FinishStep"]);
    expect(first?.tools?.at(-1)?.cache_control).toEqual({ type: "ephemeral" });
    const system = first?.system as { text: string; cache_control?: unknown }[];
    expect(system[0]?.cache_control).toEqual({ type: "ephemeral" });
    expect(system[0]?.text).toMatch(/data engineer/i);
    expect(JSON.stringify(first?.messages)).toContain("ac1: Runs without errors");
    // Later turns continue the server-held thread and read the cached prefix.
    expect(api.requests[1]?.thread).toMatchObject({ type: "continue" });
    expect(api.usage.cache_read_input_tokens).toBeGreaterThan(0);
  });

  it("the reviewer's verdict: Claude's findings with the static checks beside them, and a static blocker means request changes", async () => {
    await using api = await startFakeAnthropic(
      scripted(
        turn(toolUse("Read", { file_path: "pipeline/prep.py" })),
        turn(
          toolUse("FinishStep", {
            summary: "Looks fine to me.",
            criteria: [{ id: "ac1", met: true, evidence: "verdict below" }],
            verdict: { decision: "approve", summary: "Claude saw no problem.", findings: [] },
          }),
        ),
      ),
    );
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    await using tools = await createLocalTools({ taskId: "t1" });
    // The scaler is fitted before the split: the static leakage check's blocker.
    await tools.writeFile(
      "pipeline/prep.py",
      "import numpy as np\n\n\ndef prep(x: np.ndarray) -> np.ndarray:\n    mu = x.mean(axis=0)\n    train, val = x[:80], x[80:]\n    return (train - mu, val - mu)\n",
    );
    const upstream = {
      status: "succeeded" as const,
      summary: "wrote prep.py",
      artifacts: [],
      metrics: {},
      filesChanged: ["pipeline/prep.py"],
      criteria: [],
    };
    const result = await brain.runStep(
      {
        ...work("review", "code-reviewer"),
        reviewScope: [{ stepId: "data", role: "data-engineer", title: "data", result: upstream }],
      },
      tools,
    );
    expect(result.verdict?.decision).toBe("request_changes");
    expect(result.verdict?.findings.some((f) => f.severity === "blocker" && f.category === "data_leakage")).toBe(true);
    expect(result.verdict?.checks.length).toBeGreaterThan(0);
    // The reviewer has no Write or Edit (its agent file's tools line).
    expect(api.requests[0]?.body.tools?.map((t) => t.name)).toEqual(["Read", "Glob", "Grep", "Bash", "FinishStep"]);
  });

  it("a loop resumed after a crash answers journalled calls from the transcript and does not run an interrupted Bash again", async () => {
    await using api = await startFakeAnthropic((conv) =>
      turn(
        toolUse("FinishStep", {
          summary: conv.toolResults.map((r) => `${r.name}:${r.isError ? "error" : "ok"}`).join(" "),
          criteria: [{ id: "ac1", met: true, evidence: conv.toolResults.map((r) => r.text).join(" | ") }],
        }),
      ),
    );
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    await using tools = await createLocalTools({ taskId: "t1" });
    // What a killed specialist left: a reply with two calls, one finished (journalled), one still running.
    const saved: Transcript = {
      messages: [
        { role: "user", content: "You are the data-engineer on task t1." },
        {
          role: "assistant",
          content: [
            { type: "tool_use", id: "toolu_write", name: "Write", input: { file_path: "a.txt", content: "once" } },
            { type: "tool_use", id: "toolu_bash", name: "Bash", input: { command: "echo again >> count.txt" } },
          ],
        },
      ],
      toolResults: { toolu_write: { content: "Wrote 1 lines to a.txt", isError: false } },
      usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0, requests: 1, toolCalls: 0 },
      startedAt: new Date().toISOString(),
    };
    let stored: Transcript | undefined = saved;
    const resumed = {
      ...tools,
      transcript: {
        load: async () => stored,
        save: async (t: Transcript) => {
          stored = structuredClone(t);
        },
      },
    };
    const result = await brain.runStep(work("data", "data-engineer"), resumed);
    expect(result.summary).toBe("Write:ok Bash:error");
    expect(result.criteria[0]?.evidence).toMatch(
      /Wrote 1 lines to a.txt \| Error: This command was running when the specialist restarted/,
    );
    // Neither call ran again: no file from the journalled Write, no line from the interrupted Bash.
    await expect(tools.readFile("a.txt")).rejects.toThrow();
    await expect(tools.readFile("count.txt")).rejects.toThrow();
    // The first request after the restart carries both answers, in a new thread built from the saved history.
    expect(api.requests[0]?.thread).toEqual({ type: "create" });
    expect(api.requests[0]?.body.messages).toHaveLength(3);
    expect(result.usage?.requests).toBe(2);
  });

  it("ends a step with a clear error when Claude refuses, keeps stopping without FinishStep, runs out of requests, tokens or time", async () => {
    const brainFor = async (api: FakeAnthropic, maxIterations = 60) =>
      createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url, stepLimits: { maxIterations } } });
    {
      await using api = await startFakeAnthropic(() => stopWith(turn(text("I can't help with that.")), "refusal"));
      await using tools = await createLocalTools({ taskId: "t1" });
      await expect((await brainFor(api)).runStep(work("data", "data-engineer"), tools)).rejects.toThrow(/declined.*refusal/);
    }
    {
      await using api = await startFakeAnthropic(() => turn(text("All done, I think.")));
      await using tools = await createLocalTools({ taskId: "t1" });
      await expect((await brainFor(api)).runStep(work("data", "data-engineer"), tools)).rejects.toThrow(
        /stopped 3 times without calling FinishStep/,
      );
      expect(api.requests).toHaveLength(3);
      expect(JSON.stringify(api.requests[1]?.body.messages)).toContain("You stopped without calling FinishStep");
    }
    {
      await using api = await startFakeAnthropic(() => turn(toolUse("Glob", { pattern: "*" })));
      await using tools = await createLocalTools({ taskId: "t1" });
      await expect((await brainFor(api, 4)).runStep(work("data", "data-engineer"), tools)).rejects.toThrow(
        /used its 4 model requests/,
      );
      expect(api.requests).toHaveLength(4);
    }
    {
      // The token budget: the first request alone (agent prompt, rules and tools) spends more than 1,000 tokens.
      await using api = await startFakeAnthropic(() => turn(toolUse("Glob", { pattern: "*" })));
      await using tools = await createLocalTools({ taskId: "t1" });
      const brain = await createBrain({
        kind: "anthropic",
        log,
        anthropic: { apiKey: api.apiKey, baseURL: api.url, stepLimits: { tokenBudget: 1000 } },
      });
      await expect(brain.runStep(work("data", "data-engineer"), tools)).rejects.toThrow(/over its budget of 1000/);
      expect(api.requests).toHaveLength(1);
    }
    {
      // The wall-clock limit stops a step whose model is slow, mid-request.
      await using api = await startFakeAnthropic(async () => {
        await new Promise((r) => setTimeout(r, 400));
        return turn(toolUse("Glob", { pattern: "*" }));
      });
      await using tools = await createLocalTools({ taskId: "t1" });
      const brain = await createBrain({
        kind: "anthropic",
        log,
        anthropic: { apiKey: api.apiKey, baseURL: api.url, stepLimits: { timeLimitMs: 600 } },
      });
      await expect(brain.runStep(work("data", "data-engineer"), tools)).rejects.toThrow(/past its time limit of 0.6 s/);
      expect(api.requests.length).toBeLessThanOrEqual(2);
    }
  });
});

function work(stepId: string, role: StepWork["role"]): StepWork {
  const step = goodPlan.steps.find((s) => s.role === role) ?? goodPlan.steps[0];
  return {
    v: 1,
    taskId: "t1",
    stepId,
    attempt: 1,
    role,
    step: { ...(step as Plan["steps"][number]), id: stepId, role },
    task: { text: request.text, requester: request.requester, slack: { channel: "C", threadTs: "1", messageTs: "1" } },
    upstream: [],
    findings: [],
    reviewScope: [],
    brain: "anthropic",
  };
}

import { loadAgents } from "@mllead/agents";
import {
  ClaudeBadOutputError,
  ClaudeCallError,
  ClaudeOutputCutError,
  ClaudeRefusedError,
  ClaudeRequestError,
  createBrain,
  PlanRejectedError,
  type PlanRequest,
  type Transcript,
  TransientBrainError,
} from "@mllead/brain";
import { createClaudeBrain, createClaudeClient, MAX_SUMMARY_CHARS } from "@mllead/brain/claude";
import { createLocalTools } from "@mllead/brain/testing";
import { costOf, type Plan, REVIEW_CRITERIA, type StepWork, type Usage, validatePlan } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import {
  type FakeAnthropic,
  overloaded,
  scripted,
  startFakeAnthropic,
  stopWith,
  text,
  toolUse,
  turn,
} from "../helpers/fake-anthropic.js";

const log = createLogger("test", "silent");

const step = (id: string, role: Plan["steps"][number]["role"], dependsOn: string[], changesCode = false) => ({
  id,
  role,
  title: `${role} work`,
  objective: "Do the work",
  context: "The churn table",
  requirements: ["Fix the seed"],
  // A review's criteria are the review's own (the plan rules).
  acceptanceCriteria: role === "code-reviewer" ? [...REVIEW_CRITERIA] : [{ id: "ac1", text: "Runs without errors" }],

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
    // The plan rules (~650 tokens, the same for every task) are in the cached system block; the request carries the task.
    expect(system[0]?.text).toContain("## The rules every plan follows");
    expect(JSON.stringify(sent?.messages)).not.toContain("Answer with the plan as JSON");
    // The conversation is cached too (repair rounds read it back), and the tech lead plans with adaptive thinking.
    expect(sent?.cache_control).toEqual({ type: "ephemeral" });
    expect(sent?.thinking).toEqual({ type: "adaptive" });
    expect(sent?.output_config?.effort).toBe("high");
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
    await expect(brain.plan(request)).rejects.toMatchObject({ code: "plan_rejected", call: "plan" });
    expect(api.requests).toHaveLength(6);
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

/** The Claude brain with fast backoff: the SDK retries `sdkRetries` times itself, then ours `retries` times. */
async function fastBrain(api: FakeAnthropic, o: { sdkRetries?: number; retries?: number; timeoutMs?: number } = {}) {
  return createClaudeBrain({
    client: createClaudeClient({
      apiKey: api.apiKey,
      baseURL: api.url,
      maxRetries: o.sdkRetries ?? 0,
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    }),
    agents: await loadAgents(),
    log,
    retry: { retries: o.retries ?? 3, baseDelayMs: 5, maxDelayMs: 20 },
  });
}

/** A plan request that records what onUsage reports. */
function counted(extra: Partial<PlanRequest> = {}) {
  const reported: Usage[] = [];
  return { req: { ...request, ...extra, onUsage: (u: Usage) => void reported.push(u) }, reported };
}

const lastUserText = (api: FakeAnthropic, i: number) => JSON.stringify(api.requests[i]?.body.messages.at(-1)?.content ?? "");

describe("every Claude failure of the tech lead has an answer", () => {
  it("streams the plan and reports each call's tokens and cost, priced per model", async () => {
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(goodPlan) }));
    const brain = await fastBrain(api);
    const { req, reported } = counted();
    await brain.plan(req);
    expect(api.requests[0]?.stream).toBe(true);
    expect(reported).toHaveLength(1);
    const u = reported[0] as Usage;
    expect(u).toMatchObject({ model: "claude-opus-5-5", requests: 1 });
    expect(u.inputTokens + u.cacheWriteTokens + u.cacheReadTokens).toBeGreaterThan(1000);
    expect(u.costUsd).toBeCloseTo(costOf(u, "claude-opus-5-5") ?? -1, 12);
    expect(u.costUsd).toBeGreaterThan(0);
    // A specialist step's usage names its model and carries its cost.
    await using api2 = await startFakeAnthropic(() =>
      turn(toolUse("FinishStep", { summary: "done", criteria: [{ id: "ac1", met: true, evidence: "ran it" }] })),
    );
    await using tools = await createLocalTools({ taskId: "t1" });
    const result = await (await fastBrain(api2)).runStep(work("data", "data-engineer"), tools);
    expect(result.usage).toMatchObject({ model: "claude-sonnet-5-5", requests: 1 });
    expect(result.usage?.costUsd).toBeGreaterThan(0);
  });

  it("a refusal gets a repair round, then the plan; refusing every time ends in ClaudeRefusedError for the thread", async () => {
    const refusal = stopWith(turn(text("I can't help with that.")), "refusal");
    {
      await using api = await startFakeAnthropic();
      api.enqueue(refusal, { text: JSON.stringify(goodPlan) });
      const { req, reported } = counted();
      const plan = await (await fastBrain(api)).plan(req);
      expect(plan.steps.map((s) => s.id)).toEqual(["data", "train", "review"]);
      expect(api.requests).toHaveLength(2);
      // The refusal is not sent back as the assistant's answer; the repair says what happened.
      expect(api.requests[1]?.body.messages.map((m) => m.role)).toEqual(["user", "user"]);
      expect(lastUserText(api, 1)).toMatch(/last answer was a refusal/);
      expect(reported).toEqual([expect.objectContaining({ requests: 2 })]);
    }
    {
      await using api = await startFakeAnthropic(() => refusal);
      const { req, reported } = counted();
      const err = await (await fastBrain(api)).plan(req).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClaudeRefusedError);
      expect(err).toBeInstanceOf(ClaudeCallError);
      expect(err).toMatchObject({ code: "claude_refused", call: "plan", retryable: true });
      expect((err as Error).message).toMatch(
        /^Claude declined to write a plan for this task \(3 tries\)\. Rephrase the request, then retry\.$/,
      );
      expect(api.requests).toHaveLength(3);
      // The tokens of the failed tries are reported too.
      expect(reported).toEqual([expect.objectContaining({ requests: 3, model: "claude-opus-5-5" })]);
    }
  });

  it("a plan cut at max_tokens is asked for again with a higher limit; cut every time ends in ClaudeOutputCutError", async () => {
    const cut = stopWith(turn(text('{"summary": "Prepare the churn tab')), "max_tokens");
    {
      await using api = await startFakeAnthropic();
      api.enqueue(cut, { text: JSON.stringify(goodPlan) });
      const plan = await (await fastBrain(api)).plan(request);
      expect(validatePlan(plan)).toEqual([]);
      // The tech lead thinks (its agent file's `effort: high`), and thinking counts in max_tokens: 32,000, then 64,000.
      expect(api.requests.map((r) => r.body.max_tokens)).toEqual([32_000, 64_000]);
      expect(lastUserText(api, 1)).toMatch(/cut off at the output limit \(32000 tokens\)/);
    }
    {
      await using api = await startFakeAnthropic(() => cut);
      const err = await (await fastBrain(api)).plan(request).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClaudeOutputCutError);
      expect(err).toMatchObject({ code: "claude_output_cut", retryable: true });
      expect((err as Error).message).toMatch(
        /plan was cut off at the output limit on every try \(3, the last allowed 64000 tokens\)/,
      );
    }
  });

  it("checks the constraints the API does not enforce (an id with a space, a 151-character title) and repairs them", async () => {
    const bad = {
      ...goodPlan,
      steps: [
        { ...goodPlan.steps[0], title: "t".repeat(151) },
        { ...goodPlan.steps[1], id: "train model" },
        { ...goodPlan.steps[2], dependsOn: ["data", "train model"] },
      ],
    };
    {
      await using api = await startFakeAnthropic();
      api.enqueue({ text: JSON.stringify(bad) }, { text: JSON.stringify(goodPlan) });
      const plan = await (await fastBrain(api)).plan(request);
      expect(plan.steps.map((s) => s.id)).toEqual(["data", "train", "review"]);
      // The fake, like the API, accepted the output: the SDK moved pattern and maxLength into descriptions.
      expect(api.requests[0]?.status).toBe(200);
      const repair = lastUserText(api, 1);
      expect(repair).toContain("steps.1.id: ids may only contain letters, digits, '_' and '-'");
      expect(repair).toMatch(/steps\.0\.title: .*151 characters/);
      expect(api.requests[1]?.body.messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    }
    {
      await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(bad) }));
      const err = await (await fastBrain(api)).plan(request).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClaudeBadOutputError);
      expect(err).toMatchObject({ code: "claude_bad_output", call: "plan" });
      expect((err as Error).message).toMatch(
        /^Claude's plan did not fit the plan format after 2 repairs: .*ids may only contain/,
      );
    }
    {
      await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(noReview) }));
      const err = await (await fastBrain(api))
        .plan({ ...request, previous: { plan: goodPlan as Plan, feedback: ["x"] } })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "plan_rejected", call: "revision" });
      expect((err as Error).message).toMatch(
        /^Claude's revised plan still broke the team's rules after 2 repairs: every plan needs a code-reviewer/,
      );
    }
  });

  it("waits out a 529/429/5xx burst longer than the SDK's retries with backoff, without a repair round", async () => {
    await using api = await startFakeAnthropic(() => ({ text: JSON.stringify(goodPlan) }));
    api.enqueue(
      overloaded(0.001),
      overloaded(0.001),
      { status: 429, type: "rate_limit_error", message: "Too many requests", retryAfter: 0.001 },
      overloaded(0.001),
      { status: 500, type: "api_error", message: "Internal error" },
    );
    const { req, reported } = counted();
    const plan = await (await fastBrain(api, { sdkRetries: 1, retries: 3 })).plan(req);
    expect(plan.steps).toHaveLength(3);
    expect(api.requests.map((r) => r.status)).toEqual([529, 529, 429, 529, 500, 200]);
    // Every try sent the same single question: no repair round was spent.
    for (const r of api.requests) expect(r.body.messages).toHaveLength(1);
    expect(reported).toEqual([expect.objectContaining({ requests: 1 })]);
  });

  it("a burst past the bound ends in TransientBrainError (retry later, no re-plan spent); a timeout is retried too", async () => {
    {
      await using api = await startFakeAnthropic(() => overloaded(0.001));
      const { req, reported } = counted();
      const err = await (await fastBrain(api, { sdkRetries: 1, retries: 2 })).plan(req).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientBrainError);
      expect(err).toMatchObject({ code: "brain_transient", call: "plan", retryable: true });
      expect((err as Error).message).toMatch(
        /^Claude is overloaded or unreachable \(529 overloaded_error\), still after 3 tries.*retry in a few minutes/,
      );
      // (1 + 1 SDK retry) × (1 + 2 of ours)
      expect(api.requests).toHaveLength(6);
      expect(reported).toEqual([]);
    }
    {
      let calls = 0;
      await using api = await startFakeAnthropic(async () => {
        if (++calls === 1) await new Promise((r) => setTimeout(r, 1500));
        return { text: JSON.stringify(goodPlan) };
      });
      const plan = await (await fastBrain(api, { timeoutMs: 500 })).plan(request);
      expect(plan.steps).toHaveLength(3);
      expect(api.requests).toHaveLength(2);
    }
  });

  it("a specialist step waits out a 529 burst mid-loop and resumes from its transcript, repeating no tool call", async () => {
    let n = 0;
    const script = () => {
      n += 1;
      if (n === 1) return turn(toolUse("Bash", { command: "echo ran >> count.txt" }));
      if (n <= 4) return overloaded(0.001);
      return turn(toolUse("FinishStep", { summary: "done", criteria: [{ id: "ac1", met: true, evidence: "count.txt" }] }));
    };
    {
      await using api = await startFakeAnthropic(script);
      await using tools = await createLocalTools({ taskId: "t1" });
      let stored: Transcript | undefined;
      const resumable = {
        ...tools,
        transcript: {
          load: async () => stored,
          save: async (t: Transcript) => {
            stored = structuredClone(t);
          },
        },
      };
      const result = await (await fastBrain(api, { retries: 4 })).runStep(work("data", "data-engineer"), resumable);
      expect(result.status).toBe("succeeded");
      expect(api.requests.map((r) => r.status)).toEqual([200, 529, 529, 529, 200]);
      expect(await tools.readFile("count.txt")).toBe("ran\n");
    }
    {
      // Without a transcript the loop cannot resume: the error is named transient at once, for the caller to retry.
      n = 0;
      await using api = await startFakeAnthropic(script);
      await using tools = await createLocalTools({ taskId: "t1" });
      const err = await (await fastBrain(api, { retries: 4 }))
        .runStep(work("data", "data-engineer"), tools)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientBrainError);
      expect(err).toMatchObject({ code: "brain_transient", call: "step", retryable: true });
      expect(api.requests).toHaveLength(2);
    }
  });

  it("a rejected key is a ClaudeRequestError with its status, not retried", async () => {
    await using api = await startFakeAnthropic();
    const brain = await createClaudeBrain({
      client: createClaudeClient({ apiKey: "sk-ant-wrong", baseURL: api.url, maxRetries: 0 }),
      agents: await loadAgents(),
      log,
      retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 20 },
    });
    const err = await brain.plan(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClaudeRequestError);
    expect(err).toMatchObject({ code: "claude_request_rejected", status: 401, retryable: false });
    expect((err as Error).message).toMatch(/rejected the request for a plan \(401 authentication_error: invalid x-api-key\)/);
    expect(api.requests).toHaveLength(1);
  });

  it("the summary streams, is repaired after a refusal or when too long for Slack, and fails with a coded error", async () => {
    const summaryReq = (onUsage?: (u: Usage) => void) => ({
      taskId: "t1",
      text: request.text,
      plan: { ...goodPlan, brain: "anthropic" } as Plan,
      results: [],
      ...(onUsage ? { onUsage } : {}),
    });
    {
      await using api = await startFakeAnthropic();
      api.enqueue(
        stopWith(turn(text("No.")), "refusal"),
        { text: "x".repeat(MAX_SUMMARY_CHARS + 1) },
        { text: "*Summary*: done." },
      );
      const reported: Usage[] = [];
      const brain = await fastBrain(api);
      // One repair round by default: the refusal uses it, so the long answer fails…
      await expect(brain.summarize(summaryReq((u) => reported.push(u)))).rejects.toMatchObject({
        code: "claude_bad_output",
        call: "summary",
        message: expect.stringMatching(
          /^Claude's summary was not usable after 2 tries \(3001 characters, over 3000\)\. Retry\.$/,
        ),
      });
      expect(api.requests.every((r) => r.stream)).toBe(true);
      expect(lastUserText(api, 1)).toMatch(/refusal/);
      expect(reported).toEqual([expect.objectContaining({ requests: 2 })]);
      // …and the next summary is the good answer.
      expect(await brain.summarize(summaryReq())).toBe("*Summary*: done.");
    }
    {
      await using api = await startFakeAnthropic();
      api.enqueue({ text: "x".repeat(MAX_SUMMARY_CHARS + 1) }, { text: "*Summary*: shorter." });
      expect(await (await fastBrain(api)).summarize(summaryReq())).toBe("*Summary*: shorter.");
      expect(lastUserText(api, 1)).toMatch(/Slack shows at most 3000/);
    }
  });

  it("the prompt and the schema carry the shapes, kinds and track; a triage out of order is repaired", async () => {
    const s = (id: string, role: Plan["steps"][number]["role"], kind: string, dependsOn: string[]) => ({
      ...step(id, role, dependsOn, role !== "code-reviewer"),
      kind,
    });
    const triage = {
      ...goodPlan,
      shape: "triage",
      track: "production",
      steps: [
        s("investigate", "data-engineer", "investigate", []),
        s("rootcause", "analyst", "root-cause", ["investigate"]),
        s("fix", "ml-engineer", "fix", ["rootcause"]),
        s("verify", "analyst", "verify", ["fix"]),
        s("review", "code-reviewer", "review", ["verify"]),
      ],
    };
    const early = { ...triage, steps: triage.steps.map((x) => (x.id === "fix" ? { ...x, dependsOn: ["investigate"] } : x)) };
    await using api = await startFakeAnthropic();
    api.enqueue({ text: JSON.stringify(early) }, { text: JSON.stringify(triage) });
    const plan = await (await fastBrain(api)).plan({
      ...request,
      text: "investigate why the fraud model's precision dropped last week",
    });
    expect(plan).toMatchObject({ shape: "triage", track: "production" });
    expect(plan.steps.map((x) => x.kind)).toEqual(["investigate", "root-cause", "fix", "verify", "review"]);
    const schema = JSON.stringify(api.requests[0]?.body.output_config?.format?.schema);
    for (const word of ['"shape"', '"track"', '"kind"', '"triage"', '"root-cause"', '"sweep"']) expect(schema).toContain(word);
    // The plan rules are the same for every task: they sit in the cached system block, not in the request.
    const first = JSON.stringify(api.requests[0]?.body.system);
    expect(JSON.stringify(api.requests[0]?.body.messages)).not.toMatch(/on EVERY other step/);
    expect(first).toMatch(/depends, directly or through others, on EVERY other step/);
    expect(first).toMatch(/triage \(why did a metric drop: investigate → root cause → fix → verify\)/);
    expect(first).toMatch(/production \(bias to correctness/);
    expect(lastUserText(api, 1)).toMatch(/fix step 'fix' must depend on root-cause step 'rootcause'/);
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

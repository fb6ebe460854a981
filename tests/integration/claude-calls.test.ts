import Anthropic from "@anthropic-ai/sdk";
import { loadAgents } from "@mllead/agents";
import { createBrain, isRetryableStepError, RetryableStepError, type StepTools, type Transcript } from "@mllead/brain";
import { createClaudeBrain, createClaudeClient } from "@mllead/brain/claude";
import { createLocalTools, type LocalTools } from "@mllead/brain/testing";
import type { Plan, StepWork } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { type FakeAnthropic, scripted, startFakeAnthropic, text, toolUse, turn } from "../helpers/fake-anthropic.js";

// Calls that hold (issue 11, item 4): streamed turns, the conversation cached, adaptive thinking, infrastructure
// errors redelivered instead of shown to the model, FinishStep alone, and notes at 80 % of a budget.
const log = createLogger("test", "silent");

const finish = (evidence = "done") => toolUse("FinishStep", { summary: "done", criteria: [{ id: "ac1", met: true, evidence }] });

function work(role: StepWork["role"] = "data-engineer"): StepWork {
  const step: Plan["steps"][number] = {
    id: "data",
    role,
    title: "Split the churn table",
    objective: "Split the churn table",
    context: "The churn table",
    requirements: ["Fix the seed"],
    acceptanceCriteria: [{ id: "ac1", text: "Runs without errors" }],
    params: {},
    nextHandoff: { to: "tech-lead", reason: "report back" },
    dependsOn: [],
    changesCode: true,
    usesGpu: false,
  };
  return {
    v: 1,
    taskId: "t1",
    stepId: "data",
    attempt: 1,
    role,
    step,
    task: { text: "split the churn table", requester: { userId: "U1" }, slack: { channel: "C", threadTs: "1", messageTs: "1" } },
    upstream: [],
    findings: [],
    reviewScope: [],
    brain: "anthropic",
  };
}

/** The local tools with a transcript kept in memory, as the specialist keeps it in the bus. */
function withTranscript(tools: LocalTools): StepTools & { stored(): Transcript | undefined } {
  let stored: Transcript | undefined;
  return {
    ...tools,
    transcript: {
      load: async () => stored,
      save: async (t: Transcript) => {
        stored = structuredClone(t);
      },
    },
    stored: () => stored,
  };
}

async function brainFor(api: FakeAnthropic, o: { timeoutMs?: number; stepLimits?: object; thinking?: "off" | "medium" } = {}) {
  return createClaudeBrain({
    client: createClaudeClient({
      apiKey: api.apiKey,
      baseURL: api.url,
      maxRetries: 0,
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    }),
    agents: await loadAgents(),
    log,
    retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...(o.stepLimits ? { stepLimits: o.stepLimits } : {}),
    ...(o.thinking ? { thinking: o.thinking } : {}),
  });
}

const bodyText = (api: FakeAnthropic) => JSON.stringify(api.requests.map((r) => r.body));

describe("Claude calls that hold", () => {
  it("a turn that writes for longer than the request timeout streams to its end: no retry", async () => {
    // The real case is a 150 s Write against the client's 120 s; here 4.5 s against 3 s, the same way round (the
    // timeout long enough that a loaded machine still starts every response within it).
    const long = "x = 1\n".repeat(3000);
    await using api = await startFakeAnthropic(
      scripted({ ...turn(toolUse("Write", { file_path: "big.py", content: long })), durationMs: 4500 }, turn(finish())),
    );
    await using local = await createLocalTools({ taskId: "t1" });
    const result = await (await brainFor(api, { timeoutMs: 3000 })).runStep(work(), local);
    expect(result.status).toBe("succeeded");
    expect(await local.readFile("big.py")).toBe(long);
    // One request per turn, each streamed: the slow turn was not cut and asked again.
    expect(api.requests.map((r) => [r.stream, r.status])).toEqual([
      [true, 200],
      [true, 200],
    ]);
    // Not streamed, the same turn would have hit the timeout.
    api.enqueue({ ...turn("slow"), durationMs: 4500 });
    const plain = new Anthropic({ apiKey: api.apiKey, baseURL: api.url, maxRetries: 0, timeout: 3000 });
    await expect(
      plain.messages.create({ model: "claude-sonnet-5-5", max_tokens: 100, messages: [{ role: "user", content: "go" }] }),
    ).rejects.toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
  });

  it("from the second turn on, each turn reads the conversation from the cache (≥ 70 % of input tokens over 10 turns)", async () => {
    await using api = await startFakeAnthropic(
      scripted(
        ...Array.from({ length: 9 }, (_, i) => turn(`Look ${i + 1}.`, toolUse("Glob", { pattern: `*${i}*` }))),
        turn(finish()),
      ),
    );
    await using local = await createLocalTools({ taskId: "t1" });
    const result = await (await brainFor(api)).runStep(work(), local);
    expect(result.status).toBe("succeeded");
    expect(api.requests).toHaveLength(10);
    expect(api.requests.every((r) => r.body.cache_control?.type === "ephemeral")).toBe(true);
    const used = api.requests.map((r) => r.reply?.usage);
    const input = (u: (typeof used)[number]) =>
      (u?.input_tokens ?? 0) + (u?.cache_read_input_tokens ?? 0) + (u?.cache_creation_input_tokens ?? 0);
    used.slice(1).forEach((u, i) => {
      // Everything the turn before sent is read back.
      expect(u?.cache_read_input_tokens).toBeGreaterThanOrEqual(input(used[i]));
    });
    const read = used.reduce((n, u) => n + (u?.cache_read_input_tokens ?? 0), 0);
    const all = used.reduce((n, u) => n + input(u), 0);
    console.log(`a 10-turn step loop: ${Math.round((100 * read) / all)} % of its input tokens read from the cache`);
    expect(read / all).toBeGreaterThanOrEqual(0.7);
  });

  it("adaptive thinking where an agent asks for it; the thinking comes back with its tool calls, also after a resume", async () => {
    await using api = await startFakeAnthropic(
      scripted(
        turn({ type: "thinking", thinking: "First see what is there." }, toolUse("Glob", { pattern: "*" })),
        // Overloaded mid-reply: the loop resumes from its transcript, on a new thread that replays the history.
        { content: [text("Now I")], failMidStream: { type: "overloaded_error", message: "Overloaded" } },
        (conv) => {
          const reply = conv.messages.at(-2)?.content;
          expect(Array.isArray(reply) && reply[0]?.type).toBe("thinking");
          return turn({ type: "thinking", thinking: "Nothing to split yet." }, finish());
        },
      ),
    );
    await using local = await createLocalTools({ taskId: "t1" });
    const tools = withTranscript(local);
    const result = await (await brainFor(api, { thinking: "medium" })).runStep(work(), tools);
    expect(result.status).toBe("succeeded");
    expect(api.scriptErrors).toEqual([]);
    expect(api.requests.map((r) => r.body.thinking)).toEqual([{ type: "adaptive" }, { type: "adaptive" }, { type: "adaptive" }]);
    expect(api.requests.every((r) => r.body.output_config?.effort === "medium")).toBe(true);
    expect(api.requests.map((r) => r.error?.type)).toEqual([undefined, "overloaded_error", undefined]);
    expect(api.requests[2]?.thread).toEqual({ type: "create" });
    // The transcript keeps the thinking block with its signature.
    expect(JSON.stringify(tools.stored()?.messages)).toContain('"signature"');

    // MLLEAD_THINKING=off: no thinking anywhere, not even for the tech lead, whose file says `effort: high`.
    await using plain = await startFakeAnthropic(() => ({ text: "{}" }));
    const off = await createBrain({
      kind: "anthropic",
      log,
      anthropic: { apiKey: plain.apiKey, baseURL: plain.url, thinking: "off" },
    });
    await off.plan({ taskId: "t1", text: "train a baseline", requester: { userId: "U1" } }).catch(() => undefined);
    expect(plain.requests[0]?.body.thinking).toBeUndefined();
    expect(plain.requests[0]?.body.output_config?.effort).toBeUndefined();
  });

  it("a tool that meets the bus down ends the loop for redelivery: the model never sees it, the redelivered step resumes", async () => {
    class BusDown extends RetryableStepError {
      override readonly code = "infrastructure";
    }
    await using api = await startFakeAnthropic(
      scripted(turn("Looking.", toolUse("Glob", { pattern: "*.csv" })), (conv) =>
        turn(finish(`${conv.toolResults[0]?.isError ? "error" : "ok"}: ${conv.toolResults[0]?.text}`)),
      ),
    );
    await using local = await createLocalTools({ taskId: "t1" });
    await local.writeFile("churn.csv", "a,b\n1,2\n");
    let down = true;
    const tools = withTranscript(local);
    const flaky: StepTools = {
      ...tools,
      findFiles: async (...args: Parameters<StepTools["findFiles"]>) => {
        if (down) throw new BusDown("NATS: connection closed");
        return local.findFiles(...args);
      },
    };
    const brain = await brainFor(api);
    const err = await brain.runStep(work(), flaky).catch((e: unknown) => e);
    expect(isRetryableStepError(err)).toBe(true);
    expect(err).toMatchObject({ code: "infrastructure" });
    // No request after the failed tool: the model was not told, and the transcript ends with its call.
    expect(api.requests).toHaveLength(1);
    expect(tools.stored()?.messages.at(-1)).toMatchObject({ role: "assistant" });
    expect(Object.keys(tools.stored()?.toolResults ?? {})).toEqual([]);

    down = false;
    const result = await brain.runStep(work(), flaky);
    expect(result.criteria[0]?.evidence).toBe("ok: churn.csv");
    expect(bodyText(api)).not.toContain("NATS");
  });

  it("FinishStep sent together with other calls is refused with a clear tool error; the others run", async () => {
    await using api = await startFakeAnthropic(
      scripted(turn(toolUse("Glob", { pattern: "*" }), finish("too early")), (conv) => {
        const [glob, early] = conv.toolResults;
        expect(glob).toMatchObject({ name: "Glob", isError: false });
        expect(early).toMatchObject({ name: "FinishStep", isError: true });
        expect(early?.text).toMatch(/call it alone, in a turn of its own/);
        return turn(finish("alone"));
      }),
    );
    await using local = await createLocalTools({ taskId: "t1" });
    const result = await (await brainFor(api)).runStep(work(), local);
    expect(result.criteria[0]?.evidence).toBe("alone");
    expect(api.requests).toHaveLength(2);
    expect(api.scriptErrors).toEqual([]);
  });

  it("at 80 % of its request budget the model is told what is left, once, beside the tool results", async () => {
    await using api = await startFakeAnthropic(
      scripted(...Array.from({ length: 5 }, (_, i) => turn(toolUse("Glob", { pattern: `*${i}*` }))), turn(finish())),
    );
    await using local = await createLocalTools({ taskId: "t1" });
    const result = await (await brainFor(api, { stepLimits: { maxIterations: 6 } })).runStep(work(), local);
    expect(result.status).toBe("succeeded");
    const said = api.requests.map((r) => JSON.stringify(r.body.messages).match(/Budget note \(requests\)[^"]*/g) ?? []);
    // The 5th reply made it 5 of 6 (past 80 %): the 6th request carries the note after the tool results, and only it.
    expect(said.map((n) => n.length)).toEqual([0, 0, 0, 0, 0, 1]);
    expect(said[5]?.[0]).toMatch(/made 5 of its 6 model requests; 1 are left\. Wrap up/);
    const last = api.requests[5]?.body.messages.at(-1)?.content as { type: string }[];
    expect(last.map((b) => b.type)).toEqual(["tool_result", "text"]);
  });

  it("a resumed step whose transcript says the model was told of a budget does not tell it again", async () => {
    await using api = await startFakeAnthropic(scripted(turn(toolUse("Glob", { pattern: "*" })), turn(finish())));
    await using local = await createLocalTools({ taskId: "t1" });
    const tools = withTranscript(local);
    // Saved after 4 of 6 requests, the requests note already given (the budgets told are data in the transcript).
    await tools.transcript?.save({
      messages: [{ role: "user", content: "Split the churn table." }],
      toolResults: {},
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, requests: 4, toolCalls: 0 },
      startedAt: new Date().toISOString(),
      budgetNotes: ["requests"],
    });
    const result = await (await brainFor(api, { stepLimits: { maxIterations: 6 } })).runStep(work(), tools);
    expect(result.status).toBe("succeeded");
    expect(api.requests).toHaveLength(2);
    expect(JSON.stringify(api.requests[1]?.body.messages)).not.toContain("Budget note (requests)");
    expect(tools.stored()?.budgetNotes).toEqual(["requests"]);
  });
});

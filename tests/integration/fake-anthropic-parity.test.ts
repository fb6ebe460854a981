import Anthropic from "@anthropic-ai/sdk";
import { betaZodTool } from "@anthropic-ai/sdk/helpers/beta/zod";
import { isTransient } from "@mllead/brain/claude";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type FakeAnthropic, scripted, startFakeAnthropic, text, toolUse, turn } from "../helpers/fake-anthropic.js";

// The fake keeps up with the real Messages API: top-level (automatic) caching, cache TTLs, each model's minimum
// cacheable length, the context window, errors in the middle of a stream, slow replies, adaptive thinking.
const MODEL = "claude-sonnet-5-5";

const clientFor = (api: FakeAnthropic, extra: { timeout?: number } = {}) =>
  new Anthropic({ apiKey: api.apiKey, baseURL: api.url, maxRetries: 0, ...extra });

/** A command tool whose result is a few hundred characters, like a real `Bash`. */
const bash = betaZodTool({
  name: "Bash",
  description: "Run a shell command in the workspace",
  inputSchema: z.object({ command: z.string() }),
  run: ({ command }) => `$ ${command}\n${"ok ".repeat(100)}`,
});

/** Ten turns: nine commands, then a closing text. */
const tenTurns = scripted(
  ...Array.from({ length: 9 }, (_, i) => turn(`Step ${i + 1}.`, toolUse("Bash", { command: `python step${i + 1}.py` }))),
  turn("All ten done."),
);

const usageOf = (api: FakeAnthropic) => api.requests.flatMap((r) => (r.reply ? [r.reply.usage] : []));

describe("the fake Messages API keeps up with the real one (through the real SDK)", () => {
  it("top-level cache_control caches the growing conversation: from the second turn on the history is read from cache", async () => {
    await using api = await startFakeAnthropic(tenTurns);
    await clientFor(api)
      .beta.messages.toolRunner({
        model: MODEL,
        max_tokens: 1000,
        cache_control: { type: "ephemeral" },
        system: "You are the data engineer. ".repeat(200),
        tools: [bash],
        messages: [{ role: "user", content: "Run the ten steps of the pipeline." }],
      })
      .runUntilDone();
    expect(api.scriptErrors).toEqual([]);
    const used = usageOf(api);
    expect(used).toHaveLength(10);
    const prompt = (u: (typeof used)[number]) => u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    expect(used[0]).toMatchObject({ cache_read_input_tokens: 0, input_tokens: 0 });
    // Each later turn reads the whole prompt of the turn before it (sent only as new messages on the thread) and
    // writes just what is new: the breakpoint moved to the end.
    for (let i = 1; i < used.length; i++) {
      expect(used[i]?.cache_read_input_tokens).toBe(prompt(used[i - 1] as never));
      expect(used[i]?.input_tokens).toBe(0);
    }
    const read = used.reduce((n, u) => n + u.cache_read_input_tokens, 0);
    const all = used.reduce((n, u) => n + prompt(u), 0);
    console.log(`top-level caching over 10 turns: ${Math.round((100 * read) / all)} % of input tokens read from cache`);
    expect(read / all).toBeGreaterThan(0.7);
  });

  it("top-level cache_control takes a breakpoint slot of its own (at most 4) and checks its TTL order", async () => {
    await using api = await startFakeAnthropic(() => turn("ok"));
    const client = clientFor(api);
    const marked = (t: string, ttl?: "1h") => ({
      type: "text" as const,
      text: t,
      cache_control: { type: "ephemeral" as const, ...(ttl ? { ttl } : {}) },
    });
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "hi" }];
    const base = { model: MODEL, max_tokens: 10, messages };
    await client.messages.create({ ...base, system: ["a", "b", "c", "d"].map((t) => marked(t)) });
    await expect(
      client.messages.create({
        ...base,
        system: ["a", "b", "c", "d"].map((t) => marked(t)),
        cache_control: { type: "ephemeral" },
      }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("A maximum of 4 blocks with cache_control") });
    // On a block that carries its own marker, top-level caching is that marker: no slot more.
    await client.messages.create({
      ...base,
      system: ["a", "b", "c"].map((t) => marked(t)),
      messages: [{ role: "user", content: [marked("hi")] }],
      cache_control: { type: "ephemeral" },
    });
    await expect(
      client.messages.create({ ...base, system: [marked("a")], cache_control: { type: "ephemeral", ttl: "1h" } }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("ttl='1h'") });
  });

  it("a cached prefix lives for its TTL (5 minutes, or 1 hour) from its last read or write", async () => {
    let now = 0;
    await using api = await startFakeAnthropic({ script: () => turn("ok"), now: () => now });
    const client = clientFor(api);
    const long = "You are the tech lead of an ML team. ".repeat(300).slice(0, 8000); // 2,000 tokens
    const ask = (ttl?: "1h") =>
      client.messages.create({
        model: MODEL,
        max_tokens: 10,
        system: [{ type: "text", text: long, cache_control: { type: "ephemeral", ...(ttl ? { ttl } : {}) } }],
        messages: [{ role: "user", content: "Plan." }],
      });
    const minutes = (m: number) => m * 60_000;
    expect((await ask()).usage).toMatchObject({ cache_creation_input_tokens: 2000, cache_read_input_tokens: 0 });
    now = minutes(4);
    expect((await ask()).usage.cache_read_input_tokens).toBe(2000);
    // Read at minute 4, so it lives until minute 9.
    now = minutes(8.5);
    expect((await ask()).usage.cache_read_input_tokens).toBe(2000);
    now = minutes(14);
    expect((await ask()).usage).toMatchObject({ cache_creation_input_tokens: 2000, cache_read_input_tokens: 0 });

    // Written at minute 14, gone at 19: a 1-hour entry takes its place.
    now = minutes(20);
    const hour = await ask("1h");
    expect(hour.usage.cache_creation).toEqual({ ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 2000 });
    now += minutes(50);
    expect((await ask("1h")).usage.cache_read_input_tokens).toBe(2000);
    now += minutes(61);
    expect((await ask("1h")).usage).toMatchObject({ cache_read_input_tokens: 0, cache_creation_input_tokens: 2000 });
  });

  it("caches a prefix only from the model's minimum length: 1,024 tokens, or 4,096 for Opus 4.5–4.7 and Haiku 4.5", async () => {
    await using api = await startFakeAnthropic(() => turn("ok"));
    const client = clientFor(api);
    const system = [{ type: "text" as const, text: "x".repeat(12_000), cache_control: { type: "ephemeral" as const } }]; // 3,000 tokens
    const writes = async (model: string) =>
      (await client.messages.create({ model, max_tokens: 10, system, messages: [{ role: "user", content: "hi" }] })).usage
        .cache_creation_input_tokens;
    expect(await writes("claude-sonnet-4-5")).toBe(3000);
    expect(await writes("claude-opus-4-8")).toBe(3000);
    expect(await writes("claude-sonnet-5-5")).toBe(3000);
    expect(await writes("claude-haiku-4-5")).toBe(0);
    expect(await writes("claude-opus-4-6")).toBe(0);
  });

  it("rejects a prompt over the context window, and stops a reply where the window is full", async () => {
    await using api = await startFakeAnthropic(() => turn("a long answer ".repeat(800)));
    const client = clientFor(api);
    const huge = "x".repeat(4 * 200_500);
    await expect(
      client.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: "user", content: huge }] }).finalMessage(),
    ).rejects.toMatchObject({
      status: 400,
      type: "invalid_request_error",
      message: expect.stringMatching(/prompt is too long: 2005\d\d tokens > 200000 maximum/),
    });
    // 199,500 tokens of prompt leave 500 for the answer, below its max_tokens.
    const full = await client.messages
      .stream({ model: MODEL, max_tokens: 4000, messages: [{ role: "user", content: "x".repeat(4 * 199_495) }] })
      .finalMessage();
    expect(full.stop_reason).toBe("model_context_window_exceeded");
    expect(full.usage.output_tokens).toBeLessThanOrEqual(505);
  });

  it("an error event in the middle of a stream reaches the caller as an APIError the brain retries (overloaded_error)", async () => {
    await using api = await startFakeAnthropic(() => ({
      content: [text("Half of an answer that the server will not finish.")],
      failMidStream: { type: "overloaded_error", message: "Overloaded" },
    }));
    const client = clientFor(api);
    const stream = client.messages.stream({ model: MODEL, max_tokens: 500, messages: [{ role: "user", content: "go" }] });
    const seen: string[] = [];
    stream.on("text", (t) => seen.push(t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err).toMatchObject({ status: undefined, error: { type: "error", error: { type: "overloaded_error" } } });
    expect(seen.length).toBeGreaterThan(0);
    expect(isTransient(err)).toBe(true);
    // Not streamed, the same failure is a 529.
    await expect(
      client.messages.create({ model: MODEL, max_tokens: 500, messages: [{ role: "user", content: "go" }] }),
    ).rejects.toMatchObject({ status: 529 });
    expect(api.usage.replies).toBe(0);
  });

  it("a reply that takes longer than the client's timeout: not streamed it times out, streamed it arrives", async () => {
    // The real case: a 150 s turn against a 120 s timeout. Here 4.5 s against 3 s, the same way round (the timeout
    // long enough that a loaded machine still starts every response within it).
    await using api = await startFakeAnthropic(() => ({ content: "x".repeat(2000), durationMs: 4500 }));
    const client = clientFor(api, { timeout: 3000 });
    const request = { model: MODEL, max_tokens: 1000, messages: [{ role: "user" as const, content: "write it" }] };
    await expect(client.messages.create(request)).rejects.toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    const events: number[] = [];
    const stream = client.messages.stream(request);
    stream.on("streamEvent", () => events.push(Date.now()));
    const done = await stream.finalMessage();
    expect(done.stop_reason).toBe("end_turn");
    // The events came over the whole reply, past the timeout, and nothing was asked twice.
    expect((events.at(-1) ?? 0) - (events[0] ?? 0)).toBeGreaterThan(3000);
    expect(api.requests).toHaveLength(2);
  });

  it("adaptive thinking with an effort: thinking streams with its signature and must come back with its tool calls", async () => {
    await using api = await startFakeAnthropic(
      scripted(
        turn({ type: "thinking", thinking: "The split must come before the scaler." }, toolUse("Bash", { command: "ls" })),
        turn({ type: "thinking", thinking: "Looks right." }, "No leakage."),
      ),
    );
    const client = clientFor(api);
    const base = {
      model: MODEL,
      max_tokens: 2000,
      thinking: { type: "adaptive" as const },
      output_config: { effort: "high" as const },
      tools: [bash],
      messages: [{ role: "user" as const, content: "Review prep.py." }],
    };
    const final = await client.beta.messages.toolRunner({ ...base, stream: true }).runUntilDone();
    expect(final.content.map((b) => b.type)).toEqual(["thinking", "text"]);
    expect(api.scriptErrors).toEqual([]);
    expect(api.requests[0]?.body).toMatchObject({ thinking: { type: "adaptive" }, output_config: { effort: "high" } });

    // By hand: the reply's thinking dropped, or its signature changed, is refused.
    api.enqueue(turn({ type: "thinking", thinking: "Check the data." }, toolUse("Bash", { command: "ls data" }, "toolu_x1")));
    const plain = clientFor(api);
    const { tools: _runnable, ...rest } = base;
    const tools = [{ name: "Bash", input_schema: { type: "object" as const, properties: {} } }];
    const reply = await plain.beta.messages.create({ ...rest, tools });
    const result = {
      role: "user" as const,
      content: [{ type: "tool_result" as const, tool_use_id: "toolu_x1", content: "a.csv" }],
    };
    const without = reply.content.filter((b) => b.type !== "thinking") as Anthropic.Beta.BetaContentBlockParam[];
    await expect(
      plain.beta.messages.create({
        ...rest,
        tools,
        messages: [...rest.messages, { role: "assistant", content: without }, result],
      }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("must start with a thinking block") });
    const forged = reply.content.map((b) => (b.type === "thinking" ? { ...b, signature: "forged" } : b));
    await expect(
      plain.beta.messages.create({
        ...rest,
        tools,
        messages: [...rest.messages, { role: "assistant", content: forged as never }, result],
      }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("Invalid `signature`") });
    // Without thinking turned on, the model writes none; an effort the API does not know is refused.
    api.enqueue(turn({ type: "thinking", thinking: "hm" }, "ok"));
    await expect(plain.messages.create({ model: MODEL, max_tokens: 100, messages: rest.messages })).rejects.toMatchObject({
      status: 400,
    });
    expect(api.scriptErrors.at(-1)).toMatch(/does not turn thinking on/);
    await expect(
      plain.messages.create({
        model: MODEL,
        max_tokens: 100,
        messages: rest.messages,
        output_config: { effort: "extreme" as never },
      }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("output_config.effort") });
  });
});

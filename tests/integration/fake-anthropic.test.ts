import Anthropic from "@anthropic-ai/sdk";
import { betaZodTool } from "@anthropic-ai/sdk/helpers/beta/zod";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type Conversation,
  type FakeAnthropic,
  scripted,
  startFakeAnthropic,
  text,
  toolUse,
  turn,
} from "../helpers/fake-anthropic.js";

const MODEL = "claude-sonnet-5-5";

const clientFor = (api: FakeAnthropic) => new Anthropic({ apiKey: api.apiKey, baseURL: api.url, maxRetries: 0 });

/** A role-playing engineer: runs the training until it exits 0, then reports with FinishStep. */
function engineer(conv: Conversation) {
  const last = conv.toolResults.at(-1);
  if (!last) return turn("I'll train the baseline.", toolUse("Bash", { command: "python train.py" }));
  if (last.name === "Bash") {
    const { exitCode } = last.json as { exitCode: number };
    if (exitCode !== 0) return turn(toolUse("Bash", { command: "python train.py --seed 1" }));
    return turn(toolUse("FinishStep", { summary: "trained: accuracy 0.91" }));
  }
  return turn("Done: accuracy 0.91.");
}

/** Two runnable tools: Bash fails on the first run and succeeds on the retry. */
function teamTools(onBash: (command: string) => void = () => {}) {
  const ran: string[] = [];
  const bash = betaZodTool({
    name: "Bash",
    description: "Run a shell command in the workspace",
    inputSchema: z.object({ command: z.string() }),
    run: ({ command }) => {
      ran.push(command);
      onBash(command);
      return JSON.stringify({ exitCode: command.includes("--seed") ? 0 : 1, stdout: "" });
    },
  });
  const finish = betaZodTool({
    name: "FinishStep",
    description: "Report the step's result",
    inputSchema: z.object({ summary: z.string() }),
    run: ({ summary }) => {
      ran.push(`finish: ${summary}`);
      return "recorded";
    },
  });
  return { ran, tools: [bash, finish] };
}

const params = (tools: ReturnType<typeof teamTools>["tools"]) => ({
  model: MODEL,
  max_tokens: 2000,
  system: "You are the ML engineer.",
  tools,
  messages: [{ role: "user" as const, content: "Train a baseline on the churn table." }],
});

const finalText = (m: Anthropic.Beta.BetaMessage) => m.content.map((b) => (b.type === "text" ? b.text : "")).join("");

describe("the fake Messages API, driven by the real SDK", () => {
  it.each([false, true])("runs a tool loop to completion on a server-held thread (stream: %s)", async (stream) => {
    await using api = await startFakeAnthropic(engineer);
    const { ran, tools } = teamTools();
    const final = await clientFor(api)
      .beta.messages.toolRunner({ ...params(tools), stream })
      .runUntilDone();

    expect(finalText(final)).toBe("Done: accuracy 0.91.");
    expect(ran).toEqual(["python train.py", "python train.py --seed 1", "finish: trained: accuracy 0.91"]);
    expect(api.scriptErrors).toEqual([]);
    expect(api.requests.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const [first, ...later] = api.requests;
    expect(first?.thread).toEqual({ type: "create" });
    expect(first?.body.system).toBe("You are the ML engineer.");
    expect(String(first?.headers["anthropic-beta"])).toContain("message-threads-2026-08-12");
    // Each later turn continues from the reply before it and sends only its tool results.
    later.forEach((r, i) => {
      expect(r.thread).toEqual({ type: "continue", previous_message_id: api.requests[i]?.reply?.id });
      expect(r.body.messages).toHaveLength(1);
      expect(r.body.system).toBeUndefined();
      expect(r.body.tools).toBeUndefined();
    });
    expect(api.requests.every((r) => r.stream === stream)).toBe(true);
    expect(api.usage.replies).toBe(4);
  });

  it("reads the thread's cached system prompt on every continue", async () => {
    await using api = await startFakeAnthropic(engineer);
    const { tools } = teamTools();
    const prompt = "You are the ML engineer of the team. ".repeat(250).slice(0, 8000);
    await clientFor(api)
      .beta.messages.toolRunner({
        ...params(tools),
        system: [{ type: "text", text: prompt, cache_control: { type: "ephemeral" } }],
      })
      .runUntilDone();
    const [first, ...later] = api.requests.map((r) => r.reply?.usage);
    // The cached prefix is the tools, then the system prompt: 2,000 tokens of text and the two definitions.
    const prefix = first?.cache_creation_input_tokens ?? 0;
    expect(prefix).toBeGreaterThan(2000);
    expect(first?.cache_read_input_tokens).toBe(0);
    for (const u of later) expect(u).toMatchObject({ cache_read_input_tokens: prefix, cache_creation_input_tokens: 0 });
    console.log("threaded tool loop usage", api.usage);
  });

  it.each([{ name: "threaded" }, { name: "unthreaded", thread: false as const }])(
    "resumes a paused turn ($name)",
    async ({ name, ...mode }) => {
      await using api = await startFakeAnthropic((conv) =>
        conv.messages.at(-1)?.role === "assistant"
          ? turn("Found the dataset.")
          : { content: "Searching", stopReason: "pause_turn" },
      );
      const final = await clientFor(api)
        .beta.messages.toolRunner({ ...params([]), ...mode })
        .runUntilDone();
      expect(finalText(final)).toBe("Found the dataset.");
      expect(api.requests.map((r) => r.status)).toEqual([200, 200]);
      // On a thread the server holds the paused turn and resumes it from no messages; without one the history ends in it.
      expect(api.requests[1]?.body.messages).toHaveLength(name === "threaded" ? 0 : 2);
    },
  );

  it("runs the same loop with `thread: false`, the full history every turn", async () => {
    await using api = await startFakeAnthropic(engineer);
    const { ran, tools } = teamTools();
    const final = await clientFor(api)
      .beta.messages.toolRunner({ ...params(tools), thread: false })
      .runUntilDone();

    expect(finalText(final)).toBe("Done: accuracy 0.91.");
    expect(ran).toHaveLength(3);
    expect(api.requests.map((r) => r.thread)).toEqual([null, null, null, null]);
    expect(api.requests.map((r) => r.body.messages.length)).toEqual([1, 3, 5, 7]);
    expect(api.requests.every((r) => !String(r.headers["anthropic-beta"] ?? "").includes("message-threads"))).toBe(true);
  });

  it("replays the history under a new thread when the server has lost the thread", async () => {
    await using api = await startFakeAnthropic(engineer);
    // The server loses its threads while the first command runs, so the next continue finds none.
    const { tools } = teamTools((command) => {
      if (!command.includes("--seed")) api.forgetThreads();
    });
    const final = await clientFor(api).beta.messages.toolRunner(params(tools)).runUntilDone();

    expect(finalText(final)).toBe("Done: accuracy 0.91.");
    const lost = api.requests.find((r) => r.status === 404);
    expect(lost?.error?.details).toEqual({ error_code: "thread_not_found" });
    const replay = api.requests[api.requests.indexOf(lost as (typeof api.requests)[number]) + 1];
    expect(replay?.thread).toEqual({ type: "create" });
    expect(replay?.body.messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(replay?.body.system).toBe("You are the ML engineer.");
    expect(api.scriptErrors).toEqual([]);
  });

  it("keeps the thread rules: one continue per reply, the beta header, no system on a continue", async () => {
    await using api = await startFakeAnthropic(() => turn("fine"));
    const client = clientFor(api);
    const base = { model: MODEL, max_tokens: 100, betas: ["message-threads-2026-08-12"] };
    const first = await client.beta.messages.create({
      ...base,
      messages: [{ role: "user", content: "hi" }],
      thread: { type: "create" },
    });
    const cont = { type: "continue" as const, previous_message_id: first.id };
    await client.beta.messages.create({ ...base, messages: [{ role: "user", content: "again" }], thread: cont });
    await expect(
      client.beta.messages.create({ ...base, messages: [{ role: "user", content: "twice" }], thread: cont }),
    ).rejects.toMatchObject({ status: 400, errorCode: "thread_already_continued" });
    await expect(
      client.beta.messages.create({
        model: MODEL,
        max_tokens: 100,
        messages: [{ role: "user", content: "hi" }],
        thread: { type: "create" },
      }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("anthropic-beta") });
    const second = await client.beta.messages.create({
      ...base,
      messages: [{ role: "user", content: "x" }],
      thread: { type: "create" },
    });
    await expect(
      client.beta.messages.create({
        ...base,
        system: "changed",
        messages: [{ role: "user", content: "y" }],
        thread: { type: "continue", previous_message_id: second.id },
      }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it("rejects a turn that leaves a tool call without its result", async () => {
    await using api = await startFakeAnthropic(() => turn(toolUse("Bash", { command: "ls" })));
    const thread = clientFor(api).beta.messages.thread({
      model: MODEL,
      max_tokens: 500,
      tools: [{ name: "Bash", description: "Run a command", input_schema: { type: "object", properties: {} } }],
    });
    const call = await thread.send({ role: "user", content: "list the files" });
    expect(call.stop_reason).toBe("tool_use");
    const id = (call.content[0] as { id: string }).id;
    await expect(thread.send({ role: "user", content: "never mind" })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining(`ids were found without \`tool_result\` blocks immediately after: ${id}`),
    });
  });

  it("rejects what the real API rejects: an unknown model, too many tokens, bad tools, too many breakpoints", async () => {
    await using api = await startFakeAnthropic();
    const client = clientFor(api);
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "hi" }];
    await expect(client.messages.create({ model: "claude-nonexistent-9", max_tokens: 10, messages })).rejects.toMatchObject({
      status: 404,
      type: "not_found_error",
      message: expect.stringContaining("model: claude-nonexistent-9"),
    });
    await expect(client.messages.stream({ model: MODEL, max_tokens: 900_000, messages }).finalMessage()).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("maximum allowed number of output tokens"),
    });
    const tool = { name: "Bash", input_schema: { type: "object" as const } };
    await expect(client.messages.create({ model: MODEL, max_tokens: 10, messages, tools: [tool, tool] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("Tool names must be unique"),
    });
    await expect(
      client.messages.create({ model: MODEL, max_tokens: 10, messages, tools: [{ ...tool, name: "run bash" }] }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      client.messages.create({
        model: MODEL,
        max_tokens: 10,
        messages,
        tools: [tool],
        tool_choice: { type: "tool", name: "Grep" },
      }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("Tool 'Grep' not found") });
    const marked = (t: string) => ({ type: "text" as const, text: t, cache_control: { type: "ephemeral" as const } });
    await expect(
      client.messages.create({
        model: MODEL,
        max_tokens: 10,
        messages,
        system: ["a", "b", "c", "d", "e"].map(marked),
      }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining("A maximum of 4 blocks with cache_control") });
  });

  it("answers a script the real model could not follow with a 400, and lists it", async () => {
    await using api = await startFakeAnthropic(
      scripted(turn(toolUse("Deploy", {})), { content: "not json" }, turn("plain text, no schema asked")),
    );
    const client = clientFor(api);
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "go" }];
    const tools = [{ name: "Bash", input_schema: { type: "object" as const } }];
    await expect(client.messages.create({ model: MODEL, max_tokens: 100, messages, tools })).rejects.toMatchObject({
      status: 400,
    });
    const format = { type: "json_schema" as const, schema: { type: "object", properties: { ok: { type: "boolean" } } } };
    await expect(
      client.messages.create({ model: MODEL, max_tokens: 100, messages, output_config: { format } }),
    ).rejects.toMatchObject({ status: 400 });
    expect(api.scriptErrors).toEqual([
      expect.stringContaining("the reply calls Deploy, which the request does not define (tools: Bash)"),
      expect.stringContaining("structured output must be JSON"),
    ]);
    await client.messages.create({ model: MODEL, max_tokens: 100, messages });
    await expect(client.messages.create({ model: MODEL, max_tokens: 100, messages })).rejects.toMatchObject({
      message: expect.stringContaining("the script has 3 steps"),
    });
  });

  it("reports cache writes and reads from the request's cache_control breakpoints", async () => {
    await using api = await startFakeAnthropic(() => turn("ok"));
    const client = clientFor(api);
    const ask = (prompt: string) =>
      client.messages.create({
        model: MODEL,
        max_tokens: 100,
        system: [{ type: "text", text: prompt, cache_control: { type: "ephemeral" } }],
        messages: [{ role: "user", content: "Plan the churn baseline." }],
      });
    const long = "You are the tech lead of an ML team. ".repeat(300).slice(0, 8000); // 2,000 tokens
    const first = await ask(long);
    const second = await ask(long);
    expect(first.usage).toMatchObject({ cache_creation_input_tokens: 2000, cache_read_input_tokens: 0 });
    expect(first.usage.cache_creation).toEqual({ ephemeral_5m_input_tokens: 2000, ephemeral_1h_input_tokens: 0 });
    expect(second.usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 2000 });
    expect(second.usage.input_tokens).toBe(first.usage.input_tokens);
    expect(second.usage.input_tokens).toBeLessThan(20);

    const short = await ask("You are the tech lead.");
    const again = await ask("You are the tech lead.");
    for (const u of [short.usage, again.usage]) {
      expect(u).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    }
    expect(api.usage).toMatchObject({ replies: 4, cache_creation_input_tokens: 2000, cache_read_input_tokens: 2000 });
  });

  it("streams the same reply it returns whole, as server-sent events", async () => {
    const reply = turn(
      "Let me look at the data first. ".repeat(4),
      toolUse("Bash", { command: "head data/churn.csv" }, "toolu_01fixed"),
    );
    await using api = await startFakeAnthropic(() => reply);
    const client = clientFor(api);
    const request = {
      model: MODEL,
      max_tokens: 1000,
      tools: [{ name: "Bash", input_schema: { type: "object" as const, properties: { command: { type: "string" } } } }],
      messages: [{ role: "user" as const, content: "Look at the churn data." }],
    };
    const whole = await client.messages.create(request);
    const stream = client.messages.stream(request);
    const events: string[] = [];
    const texts: string[] = [];
    stream.on("streamEvent", (e) => events.push(e.type));
    stream.on("text", (t) => texts.push(t));
    const streamed = await stream.finalMessage();

    expect(streamed.content).toEqual(whole.content);
    expect(streamed.stop_reason).toBe("tool_use");
    expect(streamed.usage.output_tokens).toBe(whole.usage.output_tokens);
    expect(texts.length).toBeGreaterThan(1);
    expect(events.slice(0, 2)).toEqual(["message_start", "content_block_start"]);
    expect(events.slice(-2)).toEqual(["message_delta", "message_stop"]);
    expect(api.requests.map((r) => r.stream)).toEqual([false, true]);
  });

  it("gives the stop reasons a script asks for, and cuts at max_tokens and stop sequences", async () => {
    await using api = await startFakeAnthropic();
    const client = clientFor(api);
    const ask = (extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) =>
      client.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "go" }], ...extra });
    api.enqueue(
      { content: [text("a long answer ".repeat(20))] },
      { content: "step one\n###\nstep two" },
      { content: "I can't help with that.", stopReason: "refusal" },
      { status: 529, type: "overloaded_error", message: "Overloaded" },
    );
    const cut = await ask();
    expect(cut.stop_reason).toBe("max_tokens");
    expect((cut.content[0] as Anthropic.TextBlock).text).toHaveLength(40);
    const stopped = await ask({ max_tokens: 100, stop_sequences: ["###"] });
    expect(stopped).toMatchObject({ stop_reason: "stop_sequence", stop_sequence: "###" });
    expect((stopped.content[0] as Anthropic.TextBlock).text).toBe("step one\n");
    const refused = await ask();
    expect(refused.stop_reason).toBe("refusal");
    await expect(ask()).rejects.toMatchObject({ status: 529 });
  });
});

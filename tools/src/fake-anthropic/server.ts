import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { PromptCache, segments, systemBlocks } from "./cache.js";
import { conversationView } from "./conversation.js";
import { ApiError, errorBody, invalid, requestId, ScriptError } from "./errors.js";
import { CONTEXT_WINDOW, maxOutputTokens, minCacheTokens, sdkModels } from "./models.js";
import { buildReply, newId } from "./reply.js";
import { type StreamShape, writeEventStream } from "./sse.js";
import { checkThinkingParams, ThinkingLedger, thinks } from "./thinking.js";
import { ThreadStore } from "./threads.js";
import type {
  FakeAnthropic,
  FakeAnthropicOptions,
  FakeReply,
  RecordedRequest,
  ReplyMessage,
  RequestBody,
  Script,
  UsageTotals,
} from "./types.js";
import { betasOf, checkBody, checkConversation, checkHeaders, checkToolChoiceNames } from "./validate.js";

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", "request-id": requestId(), ...headers });
  res.end(JSON.stringify(body));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * A local stand-in for Anthropic's Messages API (`POST /v1/messages`) that the real SDK talks to through
 * ANTHROPIC_BASE_URL. It checks what the real API checks (key, version, fields, model ids from the installed
 * SDK, tools and `tool_use`/`tool_result` pairing, cache breakpoints and top-level `cache_control`, threads,
 * thinking and effort, the context window), answers in the real shapes (JSON or server-sent events, thinking blocks
 * with signatures, usage with prompt-cache reads and writes that expire by TTL), at the pace a turn asks for, and
 * serves the test's replies: the queue first, then the script, which sees the whole conversation.
 *
 * Pass a script (the older form, a function of the request, still works: the conversation extends it) or options.
 */
export async function startFakeAnthropic(scriptOrOptions?: Script | FakeAnthropicOptions): Promise<FakeAnthropic> {
  const options: FakeAnthropicOptions =
    typeof scriptOrOptions === "function" ? { script: scriptOrOptions } : (scriptOrOptions ?? {});
  const script: Script = options.script ?? (() => ({ text: "ok" }));
  const models = new Set([...sdkModels(), ...(options.extraModels ?? [])]);
  const chunkChars = options.streamChunkChars ?? 24;
  const apiKey = `sk-ant-test-${randomUUID()}`;
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  const scriptErrors: string[] = [];
  const totals: UsageTotals = {
    replies: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
  };
  const cache = new PromptCache(options.now);
  const threads = new ThreadStore();
  const thinking = new ThinkingLedger();

  async function answer(rec: RecordedRequest, res: ServerResponse): Promise<void> {
    const body = rec.body;
    checkHeaders(rec.headers, apiKey);
    checkBody(body);
    checkThinkingParams(body);
    if (!models.has(body.model)) throw new ApiError(404, "not_found_error", `model: ${body.model}`);
    const limit = maxOutputTokens(body.model);
    if (body.max_tokens > limit) {
      throw invalid(
        `max_tokens: ${body.max_tokens} > ${limit}, which is the maximum allowed number of output tokens for ${body.model}`,
      );
    }
    const conv = threads.resolve(body, betasOf(rec.headers));
    checkConversation(conv.messages, conv.tools, conv.allowEmpty);
    checkToolChoiceNames(body.tool_choice, conv.tools);
    thinking.check(conv.messages, thinks(body));
    const prompt = segments(body.model, conv.tools, systemBlocks(conv.system), conv.messages, body.cache_control);
    const promptTokens = prompt.at(-1)?.tokens ?? 0;
    if (promptTokens > CONTEXT_WINDOW) throw invalid(`prompt is too long: ${promptTokens} tokens > ${CONTEXT_WINDOW} maximum`);

    threads.begin(conv.continues);
    try {
      let reply = queue.shift();
      if (!reply) {
        try {
          reply = await script(conversationView(rec, conv));
        } catch (err) {
          if (err instanceof ApiError) throw err;
          throw new ScriptError(`the script threw: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if ("status" in reply) {
        const headers: Record<string, string> = reply.retryAfter === undefined ? {} : { "retry-after": String(reply.retryAfter) };
        rec.status = reply.status;
        rec.error = { type: reply.type, message: reply.message, ...(reply.details ? { details: reply.details } : {}) };
        return sendJson(res, reply.status, errorBody(reply.type, reply.message, reply.details), headers);
      }
      const built = buildReply(reply, body, conv.tools, {
        thinking: thinks(body),
        sign: (text) => thinking.sign(text),
        room: CONTEXT_WINDOW - promptTokens,
      });
      const shape: StreamShape =
        "content" in reply
          ? { durationMs: reply.durationMs ?? 0, ...(reply.failMidStream ? { failure: reply.failMidStream } : {}) }
          : {};
      const use = cache.account(prompt, minCacheTokens(body.model));
      const message: ReplyMessage = {
        id: newId("msg"),
        type: "message",
        role: "assistant",
        model: body.model,
        content: built.content,
        stop_reason: built.stop_reason,
        stop_sequence: built.stop_sequence,
        stop_details: built.stop_details,
        container: null,
        usage: {
          input_tokens: use.input,
          output_tokens: built.outputTokens,
          cache_creation_input_tokens: use.write5m + use.write1h,
          cache_read_input_tokens: use.read,
          cache_creation: { ephemeral_5m_input_tokens: use.write5m, ephemeral_1h_input_tokens: use.write1h },
          service_tier: "standard",
        },
      };
      if (shape.failure && !body.stream) {
        // Not streamed, the reply that breaks off is an error answer, after the time it took.
        await sleep(shape.durationMs ?? 0);
        const { type, message: text } = shape.failure;
        rec.status = type === "overloaded_error" ? 529 : 500;
        rec.error = { type, message: text };
        if (!res.destroyed) sendJson(res, rec.status, errorBody(type, text));
        return;
      }
      if (shape.failure) {
        rec.status = 200;
        rec.error = { type: shape.failure.type, message: shape.failure.message };
        return await writeEventStream(res, message, chunkChars, { "request-id": requestId() }, shape);
      }
      if (body.thread) threads.save(conv, message);
      thinking.record(message.content);
      totals.replies += 1;
      totals.input_tokens += message.usage.input_tokens;
      totals.output_tokens += message.usage.output_tokens;
      totals.cache_read_input_tokens += message.usage.cache_read_input_tokens;
      totals.cache_creation_input_tokens += message.usage.cache_creation_input_tokens;
      rec.status = 200;
      rec.reply = message;
      if (body.stream) await writeEventStream(res, message, chunkChars, { "request-id": requestId() }, shape);
      else {
        // The real API answers a request that is not streamed once the whole reply is written.
        await sleep(shape.durationMs ?? 0);
        if (!res.destroyed) sendJson(res, 200, message);
      }
    } finally {
      threads.end(conv.continues);
    }
  }

  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const path = (req.url ?? "").split("?")[0];
      if (req.method !== "POST" || path !== "/v1/messages") {
        return sendJson(res, 404, errorBody("not_found_error", `no route ${req.method} ${req.url}`));
      }
      let body: RequestBody;
      try {
        body = JSON.parse(raw);
      } catch {
        return sendJson(res, 400, errorBody("invalid_request_error", "request body is not valid JSON"));
      }
      const object = typeof body === "object" && body !== null;
      const rec: RecordedRequest = {
        headers: req.headers,
        body,
        stream: object && body.stream === true,
        thread: (object && body.thread) || null,
      };
      requests.push(rec);
      try {
        await answer(rec, res);
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(500, "api_error", `fake-anthropic failed: ${String(err)}`);
        if (e instanceof ScriptError) scriptErrors.push(e.message);
        rec.status = e.status;
        rec.error = { type: e.type, message: e.message, ...(e.details ? { details: e.details } : {}) };
        if (!res.headersSent) sendJson(res, e.status, errorBody(e.type, e.message, e.details));
        else res.end();
      }
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    get usage() {
      return { ...totals };
    },
    scriptErrors,
    enqueue: (...r) => queue.push(...r),
    forgetThreads: () => threads.clear(),
    forgetCache: () => cache.clear(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

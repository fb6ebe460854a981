import type { IncomingHttpHeaders } from "node:http";
import { checkCacheControl } from "./cache.js";
import { ApiError, invalid } from "./errors.js";
import type { Block, MessageParam, RequestBody, ToolDef } from "./types.js";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export const THREADS_BETA = "message-threads-2026-08-12";

/** The betas the request names in `anthropic-beta` (comma-separated, possibly repeated). */
export function betasOf(headers: IncomingHttpHeaders): string[] {
  const raw = headers["anthropic-beta"];
  return (Array.isArray(raw) ? raw.join(",") : (raw ?? ""))
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
}

/** Key and version, checked before the body: a wrong key is a 401 whatever the body holds. */
export function checkHeaders(headers: IncomingHttpHeaders, apiKey: string): void {
  // The SDK sends the key as `Authorization: Bearer …`; older clients send `x-api-key`.
  const bearer = /^Bearer (.+)$/.exec(String(headers.authorization ?? ""))?.[1];
  const key = bearer ?? headers["x-api-key"];
  if (!key) throw new ApiError(401, "authentication_error", "an API key is required (Authorization: Bearer or x-api-key)");
  if (key !== apiKey) throw new ApiError(401, "authentication_error", "invalid x-api-key");
  const version = headers["anthropic-version"];
  if (!version) throw invalid("anthropic-version: header is required");
  if (!/^\d{4}-\d{2}-\d{2}$/.test(String(version))) throw invalid(`anthropic-version: invalid version ${String(version)}`);
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function checkTools(tools: unknown): void {
  if (tools === undefined) return;
  if (!Array.isArray(tools)) throw invalid("tools: Input should be a valid list");
  const names = new Set<string>();
  tools.forEach((tool: unknown, i) => {
    if (!isObject(tool) || typeof tool.name !== "string") throw invalid(`tools.${i}.name: Field required`);
    if (tool.type === undefined || tool.type === null || tool.type === "custom") {
      if (!TOOL_NAME.test(tool.name)) {
        throw invalid(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
      }
      const schema = tool.input_schema;
      if (!isObject(schema)) throw invalid(`tools.${i}.custom.input_schema: Field required`);
      if (schema.type !== "object") throw invalid(`tools.${i}.custom.input_schema.type: Input should be 'object'`);
      if (tool.description !== undefined && typeof tool.description !== "string") {
        throw invalid(`tools.${i}.custom.description: Input should be a valid string`);
      }
    } else if (typeof tool.type !== "string") {
      throw invalid(`tools.${i}.type: Input should be a valid string`);
    }
    if (names.has(tool.name)) throw invalid("tools: Tool names must be unique.");
    names.add(tool.name);
  });
}

function checkToolChoice(choice: unknown): void {
  if (choice === undefined) return;
  if (!isObject(choice) || !["auto", "any", "tool", "none"].includes(String(choice.type))) {
    throw invalid(
      "tool_choice: Input tag found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'",
    );
  }
  if (choice.type === "tool" && typeof choice.name !== "string") throw invalid("tool_choice.tool.name: Field required");
  if (choice.disable_parallel_tool_use !== undefined && typeof choice.disable_parallel_tool_use !== "boolean") {
    throw invalid(`tool_choice.${choice.type}.disable_parallel_tool_use: Input should be a valid boolean`);
  }
}

/** The request's own fields: types and shapes, as the API checks them before it reads the conversation. */
export function checkBody(b: RequestBody): void {
  if (!isObject(b)) throw invalid("body: Input should be a valid dictionary");
  if (typeof b.model !== "string" || !b.model) throw invalid("model: Field required");
  if (b.max_tokens === undefined) throw invalid("max_tokens: Field required");
  if (!Number.isInteger(b.max_tokens)) throw invalid("max_tokens: Input should be a valid integer");
  if (b.max_tokens < 1) throw invalid("max_tokens: Input should be greater than or equal to 1");
  if (!Array.isArray(b.messages)) throw invalid("messages: Field required");
  b.messages.forEach((m: unknown, i) => {
    if (!isObject(m) || typeof m.role !== "string") throw invalid(`messages.${i}.role: Field required`);
    if (typeof m.content !== "string" && !Array.isArray(m.content)) throw invalid(`messages.${i}.content: Field required`);
  });
  if (b.stream !== undefined && typeof b.stream !== "boolean") throw invalid("stream: Input should be a valid boolean");
  if (b.temperature !== undefined && (typeof b.temperature !== "number" || b.temperature < 0 || b.temperature > 1)) {
    throw invalid("temperature: Input should be less than or equal to 1");
  }
  if (b.stop_sequences !== undefined) {
    if (!Array.isArray(b.stop_sequences) || b.stop_sequences.some((s) => typeof s !== "string" || !s.trim())) {
      throw invalid("stop_sequences: each stop sequence must contain non-whitespace");
    }
  }
  if (b.system !== undefined && typeof b.system !== "string") {
    if (!Array.isArray(b.system)) throw invalid("system: Input should be a valid string or list");
    b.system.forEach((s: unknown, i) => {
      if (!isObject(s) || s.type !== "text") throw invalid(`system.${i}.type: Input should be 'text'`);
      if (typeof s.text !== "string" || !s.text) throw invalid("system: text content blocks must be non-empty");
    });
  }
  checkTools(b.tools);
  checkToolChoice(b.tool_choice);
  const fmt = b.output_config?.format;
  if (fmt !== undefined && fmt !== null && (fmt.type !== "json_schema" || !isObject(fmt.schema))) {
    throw invalid("output_config.format: expected a json_schema format");
  }
  const t = b.thread;
  if (t !== undefined && t !== null) {
    if (!isObject(t) || (t.type !== "create" && t.type !== "continue")) {
      throw invalid("thread: Input tag found using 'type' does not match any of the expected tags: 'create', 'continue'");
    }
    if (t.type === "continue" && (typeof t.previous_message_id !== "string" || !t.previous_message_id)) {
      throw invalid("thread.continue.previous_message_id: Field required");
    }
  }
  checkCacheControl(b);
}

const USER_BLOCKS = ["text", "image", "document", "search_result", "tool_result"];
const ASSISTANT_BLOCKS = ["text", "tool_use", "thinking", "redacted_thinking"];
const RESULT_BLOCKS = ["text", "image", "document", "search_result", "tool_reference"];

const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const MAX_IMAGE_BASE64 = 5 * 1024 * 1024;

/** The media type the image's first bytes show, as the API sniffs it. */
function sniffImage(data: Buffer): string | undefined {
  if (data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "image/png";
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return "image/jpeg";
  if (/^GIF8[79]a/.test(data.subarray(0, 6).toString("latin1"))) return "image/gif";
  if (data.subarray(0, 4).toString("latin1") === "RIFF" && data.subarray(8, 12).toString("latin1") === "WEBP")
    return "image/webp";
  return undefined;
}

/** An image block (in a message, or in a tool result) as the API checks it: base64 source, type, size, bytes. */
function checkImage(b: Record<string, unknown>, where: string): void {
  const src = b.source;
  if (!isObject(src)) throw invalid(`${where}.source: Field required`);
  if (src.type === "url" || src.type === "file") return;
  if (src.type !== "base64") {
    throw invalid(`${where}.source: Input tag '${String(src.type)}' found using 'type' does not match any of the expected tags`);
  }
  if (!IMAGE_TYPES.includes(String(src.media_type))) {
    throw invalid(`${where}.source.base64.media_type: Input should be ${IMAGE_TYPES.map((t) => `'${t}'`).join(", ")}`);
  }
  if (typeof src.data !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(src.data) || src.data.length % 4 !== 0) {
    throw invalid(`${where}.source.base64.data: invalid base64 data`);
  }
  if (src.data.length > MAX_IMAGE_BASE64) {
    throw invalid(`${where}.source.base64: image exceeds 5 MB maximum: ${src.data.length} bytes > ${MAX_IMAGE_BASE64} bytes`);
  }
  const actual = sniffImage(Buffer.from(src.data.slice(0, 64), "base64"));
  if (actual === undefined) throw invalid(`${where}.source.base64.data: Could not process image`);
  if (actual !== src.media_type) {
    throw invalid(
      `${where}.source.base64.data: The image was specified using the ${String(src.media_type)} media type, but the image appears to be a ${actual} image`,
    );
  }
}

function checkBlock(block: unknown, where: string, role: string): void {
  const allowed = role === "user" ? USER_BLOCKS : ASSISTANT_BLOCKS;
  if (!isObject(block) || typeof block.type !== "string" || !allowed.includes(block.type)) {
    const tag = isObject(block) ? String(block.type) : "?";
    throw invalid(
      `${where}: Input tag '${tag}' found using 'type' does not match any of the expected tags: ${allowed.join(", ")}`,
    );
  }
  switch (block.type) {
    case "text":
      if (typeof block.text !== "string") throw invalid(`${where}.text: Field required`);
      if (!block.text) throw invalid("messages: text content blocks must be non-empty");
      if (block.citations !== undefined && block.citations !== null && !Array.isArray(block.citations)) {
        throw invalid(`${where}.citations: Input should be a valid list`);
      }
      break;
    case "tool_use":
      if (typeof block.id !== "string" || !/^[a-zA-Z0-9_-]+$/.test(block.id)) {
        throw invalid(`${where}.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
      }
      if (typeof block.name !== "string" || !block.name) throw invalid(`${where}.name: Field required`);
      if (!isObject(block.input)) throw invalid(`${where}.input: Input should be a valid dictionary`);
      break;
    case "tool_result":
      if (typeof block.tool_use_id !== "string") throw invalid(`${where}.tool_use_id: Field required`);
      if (block.is_error !== undefined && typeof block.is_error !== "boolean") {
        throw invalid(`${where}.is_error: Input should be a valid boolean`);
      }
      if (Array.isArray(block.content)) {
        block.content.forEach((b: unknown, k) => {
          if (!isObject(b) || !RESULT_BLOCKS.includes(String(b.type))) {
            throw invalid(
              `${where}.content.${k}: Input tag '${isObject(b) ? String(b.type) : "?"}' found using 'type' does not match any of the expected tags`,
            );
          }
          if (b.type === "text" && (typeof b.text !== "string" || !b.text)) {
            throw invalid("messages: text content blocks must be non-empty");
          }
          if (b.type === "image") checkImage(b, `${where}.content.${k}`);
        });
      } else if (block.content !== undefined && typeof block.content !== "string") {
        throw invalid(`${where}.content: Input should be a valid string or list`);
      }
      break;
    case "image":
      checkImage(block, where);
      break;
    case "thinking":
      if (typeof block.thinking !== "string" || typeof block.signature !== "string") {
        throw invalid(`${where}: thinking blocks need 'thinking' and 'signature'`);
      }
      break;
    default:
      break;
  }
}

/**
 * The conversation as the server holds it (thread resolved): roles, contents, block shapes, and every
 * `tool_use` answered by a `tool_result` in the very next message, naming a tool the request defines.
 */
export function checkConversation(messages: MessageParam[], tools: ToolDef[], allowEmpty: boolean): void {
  if (messages.length === 0) {
    if (allowEmpty) return;
    throw invalid("messages: at least one message is required");
  }
  messages.forEach((m, i) => {
    if (m.role === "system") {
      throw invalid(`messages.${i}.role: fake-anthropic does not implement system-role messages (tool_addition/tool_removal)`);
    }
    if (m.role !== "user" && m.role !== "assistant") throw invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    if (typeof m.content !== "string" && !Array.isArray(m.content)) {
      throw invalid(`messages.${i}.content: Input should be a valid string or list`);
    }
    const last = i === messages.length - 1;
    if (m.content.length === 0 && !(last && m.role === "assistant")) {
      throw invalid(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`);
    }
    if (Array.isArray(m.content)) {
      m.content.forEach((b, j) => {
        checkBlock(b, `messages.${i}.content.${j}`, m.role);
      });
    }
  });
  // Consecutive messages of one role arrive here combined into one turn, as the API combines them.
  if (messages[0]?.role !== "user") throw invalid('messages: first message must use the "user" role');
  const final = messages.at(-1) as MessageParam;
  if (final.role === "assistant") {
    const blocks = typeof final.content === "string" ? [{ type: "text", text: final.content }] : final.content;
    const tail = blocks.at(-1);
    if (tail?.type === "text" && /\s$/.test(String(tail.text))) {
      throw invalid("messages: final assistant content cannot end with trailing whitespace");
    }
  }
  checkToolPairs(messages, tools);
}

const blocks = (m: MessageParam | undefined): Block[] => (m && Array.isArray(m.content) ? m.content : []);

function checkToolPairs(messages: MessageParam[], tools: ToolDef[]): void {
  const defined = new Set(tools.map((t) => t.name));
  const seen = new Set<string>();
  let usesTools = false;
  messages.forEach((m, i) => {
    const uses = blocks(m).filter((b) => b.type === "tool_use");
    const results = blocks(m).filter((b) => b.type === "tool_result");
    if (uses.length || results.length) usesTools = true;
    uses.forEach((u) => {
      const id = String(u.id);
      if (seen.has(id)) throw invalid(`messages.${i}: \`tool_use\` ids must be unique (${id})`);
      seen.add(id);
    });
    if (results.length) {
      const asked = new Set(
        blocks(messages[i - 1])
          .filter((b) => b.type === "tool_use")
          .map((b) => String(b.id)),
      );
      const stray = results.map((r) => String(r.tool_use_id)).filter((id) => !asked.has(id));
      if (stray.length) {
        throw invalid(
          `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${stray.join(", ")}. ` +
            "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
        );
      }
    }
    const next = messages[i + 1];
    if (uses.length && next) {
      // Results count only at the start of the message: text before them breaks the pairing.
      const content = blocks(next);
      const firstOther = content.findIndex((b) => b.type !== "tool_result");
      const answered = new Set(
        content
          .filter((b, k) => b.type === "tool_result" && (firstOther < 0 || k < firstOther))
          .map((b) => String(b.tool_use_id)),
      );
      const missing = uses.map((u) => String(u.id)).filter((id) => !answered.has(id));
      if (missing.length) {
        throw invalid(
          `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. ` +
            "Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
        );
      }
    }
  });
  if (usesTools && defined.size === 0) {
    throw invalid("Requests which include `tool_use` or `tool_result` blocks must define tools.");
  }
  messages.forEach((m, i) => {
    blocks(m).forEach((b, j) => {
      if (b.type === "tool_use" && !defined.has(String(b.name))) {
        throw invalid(`messages.${i}.content.${j}: tool_use names a tool that is not defined in \`tools\`: ${String(b.name)}`);
      }
    });
  });
}

/** `tool_choice` against the tools the conversation has (a thread's on a continue). */
export function checkToolChoiceNames(choice: RequestBody["tool_choice"], tools: ToolDef[]): void {
  if (!choice) return;
  if ((choice.type === "any" || choice.type === "tool") && tools.length === 0) {
    throw invalid(`tool_choice: tool_choice.type '${choice.type}' requires \`tools\` to be defined`);
  }
  if (choice.type === "tool" && !tools.some((t) => t.name === choice.name)) {
    throw invalid(`tool_choice: Tool '${choice.name}' not found in \`tools\``);
  }
}

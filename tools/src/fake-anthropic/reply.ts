import { randomBytes } from "node:crypto";
import { canonical } from "./cache.js";
import { ScriptError } from "./errors.js";
import { schemaErrors } from "./json-schema.js";
import type { FakeBlock, FakeText, FakeTurn, ReplyBlock, ReplyMessage, RequestBody, StopReason, ToolDef } from "./types.js";

const STOP_REASONS: readonly StopReason[] = [
  "end_turn",
  "tool_use",
  "max_tokens",
  "stop_sequence",
  "refusal",
  "pause_turn",
  "model_context_window_exceeded",
];

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** An id in the API's style: `msg_01…`, `toolu_01…` followed by 22 base-62 characters. */
export function newId(prefix: "msg" | "toolu"): string {
  const tail = [...randomBytes(22)].map((b) => BASE62[b % 62]).join("");
  return `${prefix}_01${tail}`;
}

/** Output tokens of a reply block: ceil(characters / 4) of a text, of a call's name plus its input JSON. */
function outputTokens(block: ReplyBlock): number {
  if (block.type === "text") return Math.ceil(block.text.length / 4);
  if (block.type === "thinking") return Math.ceil(block.thinking.length / 4);
  return Math.ceil((block.name.length + canonical(block.input).length) / 4);
}

/** The reply's fields that the script decides, before usage and id are added. */
export type BuiltReply = Pick<ReplyMessage, "content" | "stop_reason" | "stop_sequence" | "stop_details"> & {
  outputTokens: number;
};

function toBlocks(reply: FakeTurn | FakeText): FakeBlock[] {
  if ("text" in reply) return reply.text ? [{ type: "text", text: reply.text }] : [];
  const blocks: FakeBlock[] = typeof reply.content === "string" ? [{ type: "text", text: reply.content }] : reply.content;
  // The API never returns an empty text block (and rejects one sent back), so an empty text is no block.
  return blocks.filter((b) => b.type !== "text" || b.text !== "");
}

/** What a reply's blocks may be: thinking only when the request turned it on; `sign` signs it. */
export interface ReplyRules {
  thinking: boolean;
  sign: (thinking: string) => string;
  /** Tokens left in the context window after the prompt. */
  room: number;
}

function toReplyBlock(block: FakeBlock, tools: ToolDef[], rules: ReplyRules): ReplyBlock {
  if (block.type === "thinking") {
    if (!rules.thinking) throw new ScriptError("a thinking block, but the request does not turn thinking on");
    if (typeof block.thinking !== "string") throw new ScriptError("a thinking block needs a string `thinking`");
    return { type: "thinking", thinking: block.thinking, signature: rules.sign(block.thinking) };
  }
  if (block.type === "text") {
    if (typeof block.text !== "string") throw new ScriptError("a text block needs a string `text`");
    return { type: "text", text: block.text, citations: null };
  }
  if (block.type === "tool_use") {
    if (!tools.some((t) => t.name === block.name)) {
      throw new ScriptError(
        `the reply calls ${block.name}, which the request does not define (tools: ${tools.map((t) => t.name).join(", ") || "none"})`,
      );
    }
    if (typeof block.input !== "object" || block.input === null || Array.isArray(block.input)) {
      throw new ScriptError(`the input of the ${block.name} call must be an object`);
    }
    return { type: "tool_use", id: block.id ?? newId("toolu"), name: block.name, input: block.input };
  }
  throw new ScriptError(`the fake cannot reply with a ${(block as { type: string }).type} block`);
}

/** The model obeys `tool_choice`: none calls nothing, any calls something, tool calls that tool. */
function checkToolChoice(body: RequestBody, calls: string[]): void {
  const choice = body.tool_choice;
  if (!choice) return;
  if (choice.type === "none" && calls.length) throw new ScriptError("tool_choice none, but the reply calls a tool");
  if (choice.type === "any" && !calls.length) throw new ScriptError("tool_choice any, but the reply calls no tool");
  if (choice.type === "tool" && !calls.includes(String(choice.name))) {
    throw new ScriptError(`tool_choice forces ${choice.name}, but the reply does not call it`);
  }
  if (choice.disable_parallel_tool_use && calls.length > 1) {
    throw new ScriptError("disable_parallel_tool_use is set, but the reply makes several calls");
  }
}

/** Cuts the content where the model would have stopped at one of the request's `stop_sequences`. */
function cutAtStopSequence(content: ReplyBlock[], sequences: string[]): { content: ReplyBlock[]; sequence: string } | null {
  for (let i = 0; i < content.length; i++) {
    const block = content[i] as ReplyBlock;
    if (block.type !== "text") continue;
    const hits = sequences.map((s) => ({ s, at: block.text.indexOf(s) })).filter((h) => h.at >= 0);
    if (!hits.length) continue;
    const first = hits.reduce((a, b) => (b.at < a.at ? b : a));
    const text = block.text.slice(0, first.at);
    return { content: [...content.slice(0, i), ...(text ? [{ ...block, text }] : [])], sequence: first.s };
  }
  return null;
}

/** Cuts the content to `budget` output tokens: a text mid-way, a call that does not fit is left out. */
function cutToBudget(content: ReplyBlock[], budget: number): ReplyBlock[] | null {
  let used = 0;
  for (let i = 0; i < content.length; i++) {
    const block = content[i] as ReplyBlock;
    const cost = outputTokens(block);
    if (used + cost <= budget) {
      used += cost;
      continue;
    }
    const left = budget - used;
    const partial = block.type === "text" && left > 0 ? [{ ...block, text: block.text.slice(0, left * 4) }] : [];
    return [...content.slice(0, i), ...partial];
  }
  return null;
}

/**
 * Turns a scripted reply into what the API would answer: ids for the calls, the stop reason (inferred, or the
 * script's), cut at a stop sequence or at `max_tokens`, and checked against what the real model could not do
 * (call an undefined tool, ignore `tool_choice`, break the structured-output schema).
 */
export function buildReply(reply: FakeTurn | FakeText, body: RequestBody, tools: ToolDef[], rules: ReplyRules): BuiltReply {
  const asked = reply.stopReason;
  if (asked !== undefined && !STOP_REASONS.includes(asked as StopReason)) {
    throw new ScriptError(`unknown stop reason ${asked}`);
  }
  let content = toBlocks(reply).map((b) => toReplyBlock(b, tools, rules));
  if (content.findIndex((b) => b.type === "thinking") > 0) throw new ScriptError("thinking comes first in a reply");
  const calls = content.flatMap((b) => (b.type === "tool_use" ? [b.name] : []));
  checkToolChoice(body, calls);
  let stop: StopReason = (asked as StopReason | undefined) ?? (calls.length ? "tool_use" : "end_turn");
  if (stop === "tool_use" && !calls.length) throw new ScriptError("stop reason tool_use, but the reply calls no tool");
  if ((stop === "end_turn" || stop === "stop_sequence") && calls.length) {
    throw new ScriptError(`stop reason ${stop}, but the reply calls ${calls.join(", ")}`);
  }
  let sequence: string | null = null;
  const sequences = body.stop_sequences ?? [];
  if (stop === "stop_sequence") {
    const wanted = "stopSequence" in reply ? reply.stopSequence : undefined;
    if (!wanted || !sequences.includes(wanted)) {
      throw new ScriptError(
        `stop reason stop_sequence needs \`stopSequence\`, one of the request's ${JSON.stringify(sequences)}`,
      );
    }
    sequence = wanted;
  } else if (stop !== "max_tokens") {
    const cut = cutAtStopSequence(content, sequences);
    if (cut) [content, stop, sequence] = [cut.content, "stop_sequence", cut.sequence];
  }
  // The reply stops at max_tokens, or earlier where the context window is full (newer models' stop reason).
  const windowFirst = rules.room < body.max_tokens;
  const budget = Math.min(body.max_tokens, Math.max(0, rules.room));
  const cut = cutToBudget(content, budget);
  if (cut) [content, stop, sequence] = [cut, windowFirst ? "model_context_window_exceeded" : "max_tokens", null];
  const format = body.output_config?.format;
  if (format && stop === "end_turn") {
    const json = content.map((b) => (b.type === "text" ? b.text : "")).join("");
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new ScriptError(`structured output must be JSON, got ${JSON.stringify(json.slice(0, 80))}`);
    }
    const problems = schemaErrors(format.schema, parsed);
    if (problems.length) throw new ScriptError(`structured output breaks the schema: ${problems.slice(0, 5).join("; ")}`);
  }
  const spent = content.reduce((n, b) => n + outputTokens(b), 0);
  return {
    content,
    stop_reason: stop,
    stop_sequence: sequence,
    stop_details: stop === "refusal" ? { type: "refusal", category: null, explanation: null } : null,
    outputTokens:
      stop === "max_tokens" ? body.max_tokens : stop === "model_context_window_exceeded" ? budget : Math.max(1, spent),
  };
}

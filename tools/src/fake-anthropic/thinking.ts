import { createHmac, randomBytes } from "node:crypto";
import { invalid } from "./errors.js";
import type { Block, MessageParam, RequestBody } from "./types.js";

const EFFORTS = ["low", "medium", "high", "xhigh", "max"];
const THINKING_TYPES = ["enabled", "disabled", "adaptive", "between_tools"];

/** Whether the request lets the model think (manual or adaptive thinking). */
export function thinks(body: RequestBody): boolean {
  return body.thinking?.type === "enabled" || body.thinking?.type === "adaptive";
}

/** `thinking` and `output_config.effort` as the API checks them. */
export function checkThinkingParams(body: RequestBody): void {
  const t = body.thinking;
  if (t !== undefined && t !== null) {
    if (typeof t !== "object" || !THINKING_TYPES.includes(String(t.type))) {
      throw invalid(
        `thinking: Input tag '${String((t as { type?: unknown }).type)}' found using 'type' does not match any of the expected tags: ${THINKING_TYPES.map((x) => `'${x}'`).join(", ")}`,
      );
    }
    if (t.type === "enabled") {
      if (!Number.isInteger(t.budget_tokens)) throw invalid("thinking.enabled.budget_tokens: Field required");
      if ((t.budget_tokens as number) < 1024)
        throw invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024");
      if ((t.budget_tokens as number) >= body.max_tokens)
        throw invalid("`max_tokens` must be greater than `thinking.budget_tokens`.");
    }
  }
  const effort = body.output_config?.effort;
  if (effort !== undefined && effort !== null && !EFFORTS.includes(effort)) {
    throw invalid(`output_config.effort: Input should be ${EFFORTS.map((e) => `'${e}'`).join(", ")}`);
  }
  const choice = body.tool_choice?.type;
  if (thinks(body) && (choice === "any" || choice === "tool")) {
    throw invalid("Thinking may not be enabled when tool_choice forces tool use.");
  }
}

const blocks = (m: MessageParam | undefined): Block[] => (m && Array.isArray(m.content) ? m.content : []);

/**
 * Signs the thinking the fake writes and checks what comes back, as the API does: a thinking block must come back
 * with its signature untouched, and while thinking is on, the assistant turn whose tool calls the request answers
 * must come back with the thinking it was written with ("thinking blocks are preserved across tool use").
 */
export class ThinkingLedger {
  #secret = randomBytes(16);
  /** The signature of the thinking that opened each reply, by the ids of the reply's tool calls. */
  #byToolUse = new Map<string, string>();

  sign(thinking: string): string {
    return createHmac("sha256", this.#secret).update(thinking).digest("base64");
  }

  /** Remembers the thinking of a reply that calls tools, so the turn that answers them can be checked. */
  record(content: { type: string; id?: string; signature?: string }[]): void {
    const signature = content.find((b) => b.type === "thinking")?.signature;
    if (!signature) return;
    for (const b of content) if (b.type === "tool_use" && b.id) this.#byToolUse.set(b.id, signature);
  }

  check(messages: MessageParam[], thinkingOn: boolean): void {
    messages.forEach((m, i) => {
      blocks(m).forEach((b, j) => {
        if (b.type === "thinking" && (typeof b.thinking !== "string" || b.signature !== this.sign(b.thinking))) {
          throw invalid(`messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`);
        }
      });
    });
    if (!thinkingOn) return;
    // The last assistant turn, when the request answers its tool calls.
    const at = messages.findLastIndex((m) => m.role === "assistant");
    const reply = blocks(messages[at]);
    const answered = blocks(messages[at + 1]).some((b) => b.type === "tool_result");
    if (at < 0 || !answered) return;
    const expected = reply.filter((b) => b.type === "tool_use").map((b) => this.#byToolUse.get(String(b.id)))[0];
    if (!expected) return;
    if (reply[0]?.type !== "thinking" || reply[0].signature !== expected) {
      throw invalid(
        `messages.${at}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${String(reply[0]?.type)}\`. ` +
          "When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). " +
          "We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`.",
      );
    }
  }
}

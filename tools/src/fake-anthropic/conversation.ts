import { systemBlocks } from "./cache.js";
import type { Resolved } from "./threads.js";
import type { Block, Conversation, MessageParam, RecordedRequest, ToolResultView } from "./types.js";

const blocks = (m: MessageParam | undefined): Block[] => (m && Array.isArray(m.content) ? m.content : []);

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((b): b is { type: "text"; text: string } => b?.type === "text" && typeof b.text === "string")
    .map((b) => b.text)
    .join("\n");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The script's view of a request: the request as sent plus the whole conversation the server holds. */
export function conversationView(rec: RecordedRequest, conv: Resolved): Conversation {
  const { messages } = conv;
  const lastUserAt = messages.findLastIndex((m) => m.role === "user");
  const lastUser = messages[lastUserAt];
  const toolCalls = messages.flatMap((m) =>
    blocks(m)
      .filter((b) => b.type === "tool_use")
      .map((b) => ({ id: String(b.id), name: String(b.name), input: b.input })),
  );
  const toolResults: ToolResultView[] = blocks(lastUser)
    .filter((b) => b.type === "tool_result")
    .map((b) => {
      const call = toolCalls.find((c) => c.id === b.tool_use_id);
      const text = textOf(b.content);
      return {
        toolUseId: String(b.tool_use_id),
        name: call?.name ?? "",
        input: call?.input,
        text,
        isError: b.is_error === true,
        json: parseJson(text),
      };
    });
  const format = rec.body.output_config?.format;
  return {
    ...rec,
    model: rec.body.model,
    system: systemBlocks(conv.system)
      .map((b) => String(b.text ?? ""))
      .join("\n\n"),
    tools: conv.tools.map((t) => t.name),
    messages,
    toolResults,
    toolCalls,
    lastUserText: lastUser ? textOf(lastUser.content) : "",
    turn: 1 + messages.slice(0, Math.max(0, lastUserAt)).filter((m) => m.role === "assistant").length,
    outputSchema: format ? format.schema : undefined,
  };
}

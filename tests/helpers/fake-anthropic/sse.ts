import type { ServerResponse } from "node:http";
import type { ReplyMessage } from "./types.js";

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/**
 * Answers with the reply as the API streams it: `message_start` (empty content, the input usage), a `ping`, per
 * block `content_block_start` / `content_block_delta`s (`text_delta`, or `input_json_delta` with `partial_json`
 * pieces) / `content_block_stop`, then `message_delta` (stop reason, final usage) and `message_stop`.
 */
export function writeEventStream(
  res: ServerResponse,
  message: ReplyMessage,
  chunkChars: number,
  headers: Record<string, string>,
) {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers });
  const send = (type: string, data: Record<string, unknown> = {}) => {
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  };
  const { usage } = message;
  send("message_start", {
    message: {
      ...message,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      stop_details: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  send("ping");
  message.content.forEach((block, index) => {
    if (block.type === "text") {
      send("content_block_start", { index, content_block: { type: "text", text: "", citations: null } });
      for (const text of chunks(block.text, chunkChars)) {
        send("content_block_delta", { index, delta: { type: "text_delta", text } });
      }
    } else {
      send("content_block_start", { index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } });
      // The API opens a call's input with an empty piece, then sends the JSON in pieces that are not valid alone.
      for (const partial_json of ["", ...chunks(JSON.stringify(block.input), chunkChars)]) {
        send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } });
      }
    }
    send("content_block_stop", { index });
  });
  send("message_delta", {
    delta: {
      stop_reason: message.stop_reason,
      stop_sequence: message.stop_sequence,
      stop_details: message.stop_details,
      container: null,
    },
    usage: {
      output_tokens: usage.output_tokens,
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
    },
  });
  send("message_stop");
  res.end();
}

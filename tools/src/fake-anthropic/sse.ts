import type { ServerResponse } from "node:http";
import type { ReplyMessage, StreamFailure } from "./types.js";

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

type Event = { type: string; data: Record<string, unknown> };

/** The reply as the API streams it, event by event. */
function events(message: ReplyMessage, chunkChars: number): { head: Event[]; content: Event[]; tail: Event[] } {
  const e = (type: string, data: Record<string, unknown> = {}): Event => ({ type, data });
  const { usage } = message;
  const head = [
    e("message_start", {
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        stop_details: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
    e("ping"),
  ];
  const content: Event[] = [];
  message.content.forEach((block, index) => {
    if (block.type === "thinking") {
      content.push(e("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } }));
      for (const thinking of chunks(block.thinking, chunkChars)) {
        content.push(e("content_block_delta", { index, delta: { type: "thinking_delta", thinking, estimated_tokens: null } }));
      }
      content.push(e("content_block_delta", { index, delta: { type: "signature_delta", signature: block.signature } }));
    } else if (block.type === "text") {
      content.push(e("content_block_start", { index, content_block: { type: "text", text: "", citations: null } }));
      for (const text of chunks(block.text, chunkChars)) {
        content.push(e("content_block_delta", { index, delta: { type: "text_delta", text } }));
      }
    } else {
      content.push(
        e("content_block_start", { index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } }),
      );
      // The API opens a call's input with an empty piece, then sends the JSON in pieces that are not valid alone.
      for (const partial_json of ["", ...chunks(JSON.stringify(block.input), chunkChars)]) {
        content.push(e("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } }));
      }
    }
    content.push(e("content_block_stop", { index }));
  });
  const tail = [
    e("message_delta", {
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
    }),
    e("message_stop"),
  ];
  return { head, content, tail };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How a reply streams: its pace and whether it breaks off. */
export interface StreamShape {
  /** The whole stream spreads over this many ms (a model writing a long reply). Default 0. */
  durationMs?: number;
  /** Breaks off with an `error` event, as the API does when it is overloaded mid-reply. */
  failure?: StreamFailure;
}

/**
 * Answers with the reply as the API streams it: `message_start` (empty content, the input usage), a `ping`, per
 * block `content_block_start` / `content_block_delta`s (`thinking_delta` and `signature_delta`, `text_delta`, or
 * `input_json_delta` with `partial_json` pieces) / `content_block_stop`, then `message_delta` (stop reason, final
 * usage) and `message_stop`. With `failure`, an `error` event takes the place of the rest. Stops writing when the
 * client goes away.
 */
export async function writeEventStream(
  res: ServerResponse,
  message: ReplyMessage,
  chunkChars: number,
  headers: Record<string, string>,
  shape: StreamShape = {},
): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers });
  const { head, content, tail } = events(message, chunkChars);
  const failure = shape.failure;
  const sent = failure
    ? [
        ...head,
        ...content.slice(0, failure.afterEvents ?? 2),
        { type: "error", data: { error: { type: failure.type, message: failure.message } } },
      ]
    : [...head, ...content, ...tail];
  const pause = (shape.durationMs ?? 0) / sent.length;
  for (const { type, data } of sent) {
    if (res.destroyed) return;
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    if (pause > 0) await sleep(pause);
  }
  res.end();
}

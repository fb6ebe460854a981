import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";

/** What a scripted reply may be: assistant text, or an API error with its HTTP status. */
export type FakeReply =
  | { text: string; stopReason?: string }
  | { status: number; type: string; message: string; retryAfter?: number };

export interface RecordedRequest {
  headers: IncomingMessage["headers"];
  body: {
    model: string;
    max_tokens: number;
    system?: { type: string; text: string; cache_control?: { type: string } }[] | string;
    messages: { role: string; content: unknown }[];
    output_config?: { format?: { type: string; schema: Record<string, unknown> } };
  };
}

export interface FakeAnthropic extends AsyncDisposable {
  /** ANTHROPIC_BASE_URL for the SDK. */
  url: string;
  apiKey: string;
  requests: RecordedRequest[];
  /** Replies served in order; when empty, `fallback` answers. */
  enqueue(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

function error(status: number, type: string, message: string) {
  return { status, body: { type: "error", error: { type, message }, request_id: `req_${randomUUID()}` } };
}

/** The checks the real Messages API makes before it looks at the content. */
function validate(req: RecordedRequest, apiKey: string) {
  // The SDK sends the key as `Authorization: Bearer …`; older clients send `x-api-key`.
  const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
  const key = bearer ?? req.headers["x-api-key"];
  if (!key) return error(401, "authentication_error", "an API key is required (Authorization: Bearer or x-api-key)");
  if (key !== apiKey) return error(401, "authentication_error", "invalid API key");
  if (!req.headers["anthropic-version"]) return error(400, "invalid_request_error", "anthropic-version: header is required");
  const b = req.body;
  if (typeof b.model !== "string" || !b.model) return error(400, "invalid_request_error", "model: Field required");
  if (!Number.isInteger(b.max_tokens) || b.max_tokens < 1)
    return error(400, "invalid_request_error", "max_tokens: Field required");
  if (!Array.isArray(b.messages) || b.messages.length === 0)
    return error(400, "invalid_request_error", "messages: at least one message is required");
  if (b.messages[0]?.role !== "user")
    return error(400, "invalid_request_error", 'messages: first message must use the "user" role');
  for (let i = 1; i < b.messages.length; i++) {
    if (b.messages[i]?.role === b.messages[i - 1]?.role) {
      return error(400, "invalid_request_error", 'messages: roles must alternate between "user" and "assistant"');
    }
  }
  const fmt = b.output_config?.format;
  if (fmt && (fmt.type !== "json_schema" || typeof fmt.schema !== "object")) {
    return error(400, "invalid_request_error", "output_config.format: expected a json_schema format");
  }
  return null;
}

/**
 * A local stand-in for Anthropic's Messages API (`POST /v1/messages`): the real
 * SDK talks to it through ANTHROPIC_BASE_URL. It checks what the real API checks
 * (key, version header, required fields, alternating roles, output format),
 * answers in the real response and error shapes, and serves scripted replies.
 */
export async function startFakeAnthropic(
  fallback: (req: RecordedRequest) => FakeReply = () => ({ text: "ok" }),
): Promise<FakeAnthropic> {
  const apiKey = `sk-ant-test-${randomUUID()}`;
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", "request-id": `req_${randomUUID()}`, ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || !req.url?.startsWith("/v1/messages")) {
        const e = error(404, "not_found_error", `no route ${req.method} ${req.url}`);
        return send(e.status, e.body);
      }
      let body: RecordedRequest["body"];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        const e = error(400, "invalid_request_error", "request body is not valid JSON");
        return send(e.status, e.body);
      }
      const recorded: RecordedRequest = { headers: req.headers, body };
      requests.push(recorded);
      const invalid = validate(recorded, apiKey);
      if (invalid) return send(invalid.status, invalid.body);
      const reply = queue.shift() ?? fallback(recorded);
      if ("status" in reply) {
        const e = error(reply.status, reply.type, reply.message);
        return send(reply.status, e.body, reply.retryAfter !== undefined ? { "retry-after": String(reply.retryAfter) } : {});
      }
      send(200, {
        id: `msg_${randomUUID().replace(/-/g, "")}`,
        type: "message",
        role: "assistant",
        model: body.model,
        content: [{ type: "text", text: reply.text }],
        stop_reason: reply.stopReason ?? "end_turn",
        stop_sequence: null,
        usage: {
          input_tokens: Math.ceil(JSON.stringify(body.messages).length / 4),
          output_tokens: Math.ceil(reply.text.length / 4),
          cache_creation_input_tokens: requests.length === 1 ? 1000 : 0,
          cache_read_input_tokens: requests.length === 1 ? 0 : 1000,
        },
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const close = () => new Promise<void>((r) => server.close(() => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    enqueue: (...r) => queue.push(...r),
    close,
    [Symbol.asyncDispose]: close,
  };
}

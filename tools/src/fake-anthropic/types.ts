import type { IncomingHttpHeaders } from "node:http";

/** `cache_control` as the API takes it on a tool, a system block or a content block. */
export interface CacheControl {
  type: string;
  ttl?: string;
}

/** A content block as the API takes it; the fake reads the fields it checks and keeps the rest. */
export interface Block {
  type: string;
  [key: string]: unknown;
}

/** A message of the conversation, as the API takes it. */
export interface MessageParam {
  role: string;
  content: string | Block[];
}

/** A tool definition: a custom tool (`type` absent or "custom") or a typed (server or client) tool. */
export interface ToolDef {
  name: string;
  type?: string;
  description?: string;
  input_schema?: Record<string, unknown>;
  cache_control?: CacheControl;
  [key: string]: unknown;
}

export type ThreadParam = { type: "create" } | { type: "continue"; previous_message_id: string };

/** The request body of `POST /v1/messages`, typed as far as the fake reads it. */
export interface RequestBody {
  model: string;
  max_tokens: number;
  system?: { type: string; text: string; cache_control?: CacheControl }[] | string;
  messages: { role: string; content: unknown }[];
  tools?: ToolDef[];
  tool_choice?: { type: string; name?: string; disable_parallel_tool_use?: boolean };
  stop_sequences?: string[];
  stream?: boolean;
  thread?: ThreadParam | null;
  output_config?: { format?: { type: string; schema: Record<string, unknown> } | null; effort?: string | null };
  /** Top-level (automatic) caching: a breakpoint on the last cacheable block of the conversation. */
  cache_control?: CacheControl | null;
  thinking?: { type: string; budget_tokens?: number; display?: string | null } | null;
  [key: string]: unknown;
}

/** Token usage of one reply, in the API's shape. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  service_tier: "standard";
}

/** Sums over every successful reply, for a test to print or assert. */
export interface UsageTotals {
  replies: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export type StopReason =
  | "end_turn"
  | "tool_use"
  | "max_tokens"
  | "stop_sequence"
  | "refusal"
  | "pause_turn"
  | "model_context_window_exceeded";

/** A block of the reply the API returns. */
export type ReplyBlock =
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "text"; text: string; citations: null }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

/** The message the fake answers with (the real API's `Message`, less the fields no test reads). */
export interface ReplyMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: ReplyBlock[];
  stop_reason: StopReason;
  stop_sequence: string | null;
  stop_details: { type: "refusal"; category: null; explanation: null } | null;
  container: null;
  usage: Usage;
}

/** What one request sent, and (once answered) how the fake answered it. */
export interface RecordedRequest {
  headers: IncomingHttpHeaders;
  body: RequestBody;
  /** Whether the SDK asked for server-sent events. */
  stream: boolean;
  /** The request's `thread` field, or null when it sent none. */
  thread: ThreadParam | null;
  /** HTTP status of the answer; absent while the request is in flight. */
  status?: number;
  /** The reply, for a 200. */
  reply?: ReplyMessage;
  /** The error body's `error`, for a rejected request. */
  error?: { type: string; message: string; details?: Record<string, unknown> };
}

/** A block a script may put in its turn; a `tool_use` without `id` gets a fresh `toolu_…` id. */
export type FakeBlock =
  | { type: "thinking"; thinking: string }
  | { type: "text"; text: string }
  | { type: "tool_use"; name: string; input: Record<string, unknown>; id?: string };

/** An `error` event the stream sends after `afterEvents` content events, instead of finishing the reply. */
export interface StreamFailure {
  type: string;
  message: string;
  /** Content events (`content_block_*`) sent before the error. Default 2. */
  afterEvents?: number;
}

/**
 * One assistant turn. `stopReason` defaults to `tool_use` when the content calls a tool, else `end_turn`;
 * `max_tokens` cuts the content to the request's `max_tokens`; `stop_sequence` needs `stopSequence`, one of the
 * request's `stop_sequences`.
 */
export interface FakeTurn {
  content: string | FakeBlock[];
  stopReason?: StopReason;
  stopSequence?: string;
  /**
   * How long the model takes to write this reply, in ms: a streamed reply spreads its events over it, one that
   * is not streamed answers after it (so a client timeout shorter than that fires, as on the real API).
   */
  durationMs?: number;
  /** Streamed: the reply breaks off with an `error` event (e.g. `overloaded_error`); not streamed: that error, 529/500. */
  failMidStream?: StreamFailure;
}

/** The original reply form: assistant text (kept for the tests written against it). */
export interface FakeText {
  text: string;
  stopReason?: string;
}

/** An API error with its HTTP status; `details` lands in `error.details` (e.g. `{ error_code: "…" }`). */
export interface FakeError {
  status: number;
  type: string;
  message: string;
  retryAfter?: number;
  details?: Record<string, unknown>;
}

/** What a scripted reply may be: a turn, assistant text, or an API error. */
export type FakeReply = FakeTurn | FakeText | FakeError;

/** A tool call of the last assistant turn together with the result the request sends for it. */
export interface ToolResultView {
  toolUseId: string;
  /** Name and input of the `tool_use` the result answers. */
  name: string;
  input: unknown;
  /** The result's text: the string content, or its text blocks joined by newlines. */
  text: string;
  isError: boolean;
  /** `text` parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/**
 * What a script sees: the request as sent (it extends `RecordedRequest`, so `body` and `headers` are there) and
 * the whole conversation as the server holds it, threads resolved.
 */
export interface Conversation extends RecordedRequest {
  model: string;
  /** The system prompt's text (blocks joined by blank lines); "" without one. */
  system: string;
  /** Names of the tools defined for this request (the thread's tools on a continue). */
  tools: string[];
  /** The full history: thread-held messages followed by the ones this request sent. */
  messages: MessageParam[];
  /** The `tool_result`s of the last user message, each with the call it answers. */
  toolResults: ToolResultView[];
  /** Every tool call of the conversation so far, oldest first. */
  toolCalls: { id: string; name: string; input: unknown }[];
  /** Text blocks of the last user message, joined by newlines. */
  lastUserText: string;
  /** Which assistant turn this reply is, counting from 1. */
  turn: number;
  /** The `output_config.format` JSON schema, when the request asks for structured output. */
  outputSchema: Record<string, unknown> | undefined;
}

/** Decides the reply to a request from its conversation; may be async. */
export type Script = (conversation: Conversation) => FakeReply | Promise<FakeReply>;

export interface FakeAnthropicOptions {
  /** Answers every request the queue does not. Default: the text "ok". */
  script?: Script;
  /** Model ids accepted besides the installed SDK's `Model` union. */
  extraModels?: string[];
  /** Characters per `text_delta` (and per `input_json_delta`) when streaming. Default 24. */
  streamChunkChars?: number;
  /** The clock of the prompt cache's TTLs, in ms (a test moves it instead of waiting). Default `Date.now`. */
  now?: () => number;
}

export interface FakeAnthropic extends AsyncDisposable {
  /** ANTHROPIC_BASE_URL for the SDK. */
  url: string;
  apiKey: string;
  /** Every request, in arrival order, valid or not. */
  requests: RecordedRequest[];
  /** Token usage summed over the successful replies. */
  readonly usage: UsageTotals;
  /** Problems in the test's script (a reply the real API could never give); each was also answered with a 400. */
  scriptErrors: string[];
  /** Replies served in order; when empty, the script answers. */
  enqueue(...replies: FakeReply[]): void;
  /** Drops every stored thread, as a server that lost them would: the next continue gets `thread_not_found`. */
  forgetThreads(): void;
  /** Empties the prompt cache. */
  forgetCache(): void;
  close(): Promise<void>;
}

/**
 * A local fake of Anthropic's Messages API for tests that drive the real SDK (modules in `fake-anthropic/`).
 *
 * Script a tool loop with a function of the conversation, which sees the whole history (threads resolved), the
 * tool results of the last turn parsed, the system prompt and the tool names:
 *
 * ```ts
 * await using api = await startFakeAnthropic((conv) => {
 *   const last = conv.toolResults.at(-1);
 *   if (!last) return turn("Training.", toolUse("Bash", { command: "python train.py" }));
 *   if (last.name === "Bash" && !last.isError) return turn(toolUse("FinishStep", { summary: last.text }));
 *   return turn("Done.");
 * });
 * ```
 *
 * `enqueue()`d replies go first; `scripted(...)` serves fixed steps in order. A reply the real model could not
 * give (an undefined tool, output that breaks the schema) is answered with a 400 and listed in `scriptErrors`.
 *
 * It keeps up with the real API where the brain depends on it: prompt caching by breakpoint and by top-level
 * `cache_control`, with TTLs (5 minutes, 1 hour; the `now` option moves the clock) and each model's minimum
 * cacheable length; the context window ("prompt is too long", `model_context_window_exceeded`); adaptive thinking
 * (`thinking`, `output_config.effort`, signed thinking blocks that must come back with their tool calls); a turn
 * that takes `durationMs` to write, and one that breaks off with an `error` event mid-stream (`failMidStream`).
 */
export { startFakeAnthropic } from "./fake-anthropic/server.js";
export { overloaded, scripted, stopWith, text, toolUse, turn } from "./fake-anthropic/turns.js";
export type {
  Conversation,
  FakeAnthropic,
  FakeAnthropicOptions,
  FakeBlock,
  FakeError,
  FakeReply,
  FakeText,
  FakeTurn,
  RecordedRequest,
  ReplyMessage,
  Script,
  StopReason,
  StreamFailure,
  ToolResultView,
  Usage,
  UsageTotals,
} from "./fake-anthropic/types.js";

import { ScriptError } from "./errors.js";
import type { Conversation, FakeBlock, FakeError, FakeReply, FakeTurn, Script, StopReason } from "./types.js";

/** A text block for a scripted turn. */
export const text = (value: string): FakeBlock => ({ type: "text", text: value });

/** A call of the tool `name` with `input`; the fake gives it a fresh `toolu_…` id unless `id` is set. */
export const toolUse = (name: string, input: Record<string, unknown> = {}, id?: string): FakeBlock =>
  id === undefined ? { type: "tool_use", name, input } : { type: "tool_use", name, input, id };

/** One assistant turn of blocks (a string is a text block); it stops with `tool_use` when it calls a tool. */
export const turn = (...parts: (FakeBlock | string)[]): FakeTurn => ({
  content: parts.map((p) => (typeof p === "string" ? text(p) : p)),
});

/** The same turn with an explicit stop reason (`max_tokens` cuts it to the request's `max_tokens`). */
export const stopWith = (reply: FakeTurn, stopReason: StopReason, stopSequence?: string): FakeTurn => ({
  ...reply,
  stopReason,
  ...(stopSequence === undefined ? {} : { stopSequence }),
});

/** A 529 `overloaded_error`, which the SDK retries after `retryAfter` seconds. */
export const overloaded = (retryAfter = 0): FakeError => ({
  status: 529,
  type: "overloaded_error",
  message: "Overloaded",
  retryAfter,
});

/**
 * A script of fixed steps, one per request: a reply, or a function of the conversation for a step that depends
 * on a tool's result. A request after the last step is a script error.
 */
export function scripted(...steps: (FakeReply | Script)[]): Script {
  let next = 0;
  return (conversation: Conversation) => {
    const step = steps[next++];
    if (step === undefined) throw new ScriptError(`the script has ${steps.length} steps, and request ${next} came`);
    return typeof step === "function" ? step(conversation) : step;
  };
}

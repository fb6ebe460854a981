import type { BetaMessageParam, BetaToolUseBlock } from "@anthropic-ai/sdk/resources/beta/messages/messages";
import type { Usage } from "@mllead/contracts";
import type { FileJournal } from "../tools/file-tools.js";
import type { StepTools, Transcript } from "../types.js";

/**
 * Serialises saves so concurrent tool calls never interleave writes of the transcript. A failed save is
 * logged and the loop goes on, except a `strict` one (a file change's intent), whose caller gets the error.
 */
export function saver(tools: StepTools, transcript: Transcript): (strict?: boolean) => Promise<void> {
  let chain: Promise<void> = Promise.resolve();
  return (strict = false) => {
    const attempt = chain.then(() => tools.transcript?.save(transcript));
    chain = attempt.catch((err) => tools.log.warn({ err }, "could not save the step's transcript"));
    return strict ? attempt : chain;
  };
}

/** The journal of one Write or Edit call: its intent goes into the transcript, saved, before the file changes. */
export function journalFor(
  id: string,
  transcript: Transcript,
  resumed: boolean,
  save: (strict?: boolean) => Promise<void>,
): FileJournal {
  const previous = resumed ? transcript.intents?.[id] : undefined;
  return {
    ...(previous ? { previous } : {}),
    async record(intent) {
      transcript.intents = { ...transcript.intents, [id]: intent };
      try {
        await save(true);
      } catch (err) {
        throw new Error(
          `the change was not made: it could not be journalled first (${err instanceof Error ? err.message : String(err)})`,
          { cause: err },
        );
      }
    },
  };
}

const ZERO: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, requests: 0, toolCalls: 0 };

/** The tool calls of an assistant message (none for any other). */
export function toolUses(message: BetaMessageParam | undefined): BetaToolUseBlock[] {
  if (message?.role !== "assistant" || typeof message.content === "string") return [];
  return message.content.filter((b): b is BetaToolUseBlock => b.type === "tool_use");
}

/** The saved conversation to resume, or a fresh one; and the calls of its last reply that never finished. */
export async function openTranscript(tools: StepTools, firstMessage: () => Promise<string>) {
  const saved = await tools.transcript?.load();
  const transcript: Transcript = saved ?? {
    messages: [{ role: "user", content: await firstMessage() }],
    toolResults: {},
    usage: { ...ZERO },
    startedAt: new Date().toISOString(),
  };
  const last = (transcript.messages as BetaMessageParam[]).at(-1);
  const pending = toolUses(last).map((t) => t.id);
  const interrupted = new Set(pending.filter((id) => !transcript.toolResults[id]));
  return { saved: saved !== undefined, transcript, interrupted, lastCalls: pending.length };
}

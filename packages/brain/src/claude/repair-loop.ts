import type Anthropic from "@anthropic-ai/sdk";
import type { MessageStreamParams } from "@anthropic-ai/sdk/resources/messages/messages";
import type { Usage } from "@mllead/contracts";
import { ClaudeBadOutputError, type ClaudeCallError, ClaudeOutputCutError, ClaudeRefusedError } from "../errors.js";
import { reportUsage, type StructuredCallOptions, streamMessage } from "./call.js";
import { type BrainCall, callName } from "./call-nouns.js";
import { logUsage, usageOf } from "./client.js";

/** Why one answer was not usable, and what goes back to Claude in the repair round. */
export interface Miss<K extends string = "refusal" | "max_tokens" | "bad_output"> {
  kind: K;
  /** What is wrong, one line each: for the log, the repair and the final error. */
  problems: string[];
  /** What goes back to Claude in the repair round. */
  repair: string;
  /** The answer to keep in the conversation before the repair (a refusal or a cut answer is left out). */
  answer?: string;
}

/** One answer read: the value the call wants, or why it is not usable. */
export type Reading<T, K extends string> = { value: T } | Miss<K>;

/** What to tell Claude after a refusal and after an answer cut at max_tokens: each call says it in its own terms. */
export interface StopRepairs {
  refusal: string;
  maxTokens: (maxTokens: number) => string;
}

/** A refusal or a cut answer as a Miss, or null when the answer ended normally and is to be read. */
export function stopMiss(message: Anthropic.Message, maxTokens: number, say: StopRepairs): Miss<"refusal" | "max_tokens"> | null {
  if (message.stop_reason === "refusal") return { kind: "refusal", problems: ["stop reason: refusal"], repair: say.refusal };
  if (message.stop_reason === "max_tokens") {
    return { kind: "max_tokens", problems: [`cut at max_tokens (${maxTokens})`], repair: say.maxTokens(maxTokens) };
  }
  return null;
}

/** The problems as a short line for a person: the first three, and how many more. */
export function shownProblems(problems: readonly string[]): string {
  return problems.slice(0, 3).join("; ") + (problems.length > 3 ? ` (and ${problems.length - 3} more)` : "");
}

/** One structured call of the tech lead with its repair rounds. */
export interface RepairLoop<T, K extends string> {
  call: BrainCall;
  /** The first user message. */
  prompt: string;
  /** Repair rounds after the first answer. */
  repairs: number;
  /** max_tokens of the first request. */
  maxTokens: number;
  system: NonNullable<MessageStreamParams["system"]>;
  /** The rest of every round's request (output format, thinking, cache control); model, max_tokens and messages are set here. */
  params?: Omit<MessageStreamParams, "model" | "max_tokens" | "messages" | "system">;
  read: (message: Anthropic.Message, maxTokens: number) => Reading<T, K>;
  /**
   * The error after the last round for a miss other than a refusal or a cut answer (those end in
   * ClaudeRefusedError and ClaudeOutputCutError).
   */
  badOutput: (miss: Miss<K>, tries: number) => ClaudeCallError;
  /** max_tokens of the round after a cut answer; default the same. */
  grow?: (maxTokens: number) => number;
}

function finalError<K extends string>(
  loop: RepairLoop<unknown, K>,
  miss: Miss<K>,
  tries: number,
  maxTokens: number,
): ClaudeCallError {
  const detail = miss.problems.join("; ");
  if (miss.kind === "refusal") return new ClaudeRefusedError(loop.call, tries, { detail });
  if (miss.kind === "max_tokens") return new ClaudeOutputCutError(loop.call, tries, maxTokens, { detail });
  return loop.badOutput(miss, tries);
}

/** The usual bad-output error, e.g. `Claude's summary was not usable after 2 tries (…). Retry.` */
export function badOutputError(call: BrainCall, subjectAndVerb: string) {
  return (miss: Miss<string>, tries: number): ClaudeCallError =>
    new ClaudeBadOutputError(
      call,
      `${subjectAndVerb} not usable after ${tries} tries (${shownProblems(miss.problems)}). Retry.`,
      {
        detail: miss.problems.join("; "),
      },
    );
}

/**
 * Asks Claude, reads the answer, and while it is not usable sends the problem back (`repairs` times) before
 * giving up with a ClaudeCallError. Transient API errors are waited out (`streamMessage`) and never use a
 * repair round. `onUsage` gets the usage of every request made, once, whatever the outcome.
 */
export async function askWithRepairs<T, K extends string>(
  client: Anthropic,
  opts: Pick<StructuredCallOptions, "model" | "log" | "retry">,
  loop: RepairLoop<T, K>,
  onUsage: ((usage: Usage) => void) | undefined,
): Promise<T> {
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: loop.prompt }];
  let maxTokens = loop.maxTokens;
  const used: Usage[] = [];
  try {
    for (let round = 0; ; round++) {
      const request = { ...loop.params, model: opts.model, max_tokens: maxTokens, system: loop.system, messages };
      const message = await streamMessage(client, request, {
        call: loop.call,
        log: opts.log,
        ...(opts.retry ? { retry: opts.retry } : {}),
      });
      const usage = usageOf(message.usage, opts.model);
      used.push(usage);
      logUsage(opts.log, loop.call, usage);
      const read = loop.read(message, maxTokens);
      if ("value" in read) return read.value;
      opts.log.warn(
        { kind: read.kind, problems: read.problems, round },
        `Claude's ${callName(loop.call)} is not usable; asking for a repair`,
      );
      if (round >= loop.repairs) throw finalError(loop, read, round + 1, maxTokens);
      if (read.kind === "max_tokens" && loop.grow) maxTokens = loop.grow(maxTokens);
      if (read.answer) messages.push({ role: "assistant", content: read.answer });
      messages.push({ role: "user", content: read.repair });
    }
  } finally {
    reportUsage(opts.log, onUsage, used);
  }
}

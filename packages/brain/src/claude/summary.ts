import type Anthropic from "@anthropic-ai/sdk";
import type { Usage } from "@mllead/contracts";
import { ClaudeBadOutputError, type ClaudeCallError, ClaudeOutputCutError, ClaudeRefusedError } from "../errors.js";
import type { SummaryRequest } from "../types.js";
import { replyText, reportUsage, type StructuredCallOptions, streamMessage } from "./call.js";
import { cachedSystem, logUsage, usageOf } from "./client.js";

/** The longest summary we post: a Slack section block holds 3,000 characters. */
export const MAX_SUMMARY_CHARS = 3000;

/** Options of summarizeWithClaude: repairs default 1, maxTokens 1,500. */
type ClaudeSummaryOptions = StructuredCallOptions;

function prompt(req: SummaryRequest): string {
  return [
    `Write the closing summary for the Slack thread of this task: ${req.text}`,
    "Say what was done, the key numbers against the baseline, the reviewer's verdict, where the artifacts are, and the next steps. Under 1500 characters, Slack mrkdwn.",
    "",
    ...req.results.map((r) => `${r.stepId} (${r.role}): ${r.result.summary} metrics=${JSON.stringify(r.result.metrics)}`),
    req.verdict ? `Verdict: ${req.verdict.decision} — ${req.verdict.summary}` : "",
  ].join("\n");
}

type Read =
  | { text: string }
  | { kind: "refusal" | "max_tokens" | "bad_output"; problem: string; repair: string; answer?: string };

function readSummary(message: Anthropic.Message, maxTokens: number): Read {
  if (message.stop_reason === "refusal") {
    return {
      kind: "refusal",
      problem: "stop reason: refusal",
      repair:
        "Your last answer was a refusal. Summarise only what the steps above report; it is the team's own work. Write the summary.",
    };
  }
  if (message.stop_reason === "max_tokens") {
    return {
      kind: "max_tokens",
      problem: `cut at max_tokens (${maxTokens})`,
      repair: "Your last answer was cut off at the output limit. Write the whole summary again, under 1500 characters.",
    };
  }
  const text = replyText(message).trim();
  if (!text) return { kind: "bad_output", problem: "an empty answer", repair: "Your last answer was empty. Write the summary." };
  if (text.length > MAX_SUMMARY_CHARS) {
    return {
      kind: "bad_output",
      problem: `${text.length} characters, over ${MAX_SUMMARY_CHARS}`,
      repair: `That summary has ${text.length} characters; Slack shows at most ${MAX_SUMMARY_CHARS}. Write it again under 1500 characters.`,
      answer: text,
    };
  }
  return { text };
}

/**
 * The closing summary with Claude, streamed. A refusal, a cut answer, an empty one or one too long for Slack
 * goes back to Claude with the problem (`repairs` times), then ends in a ClaudeCallError; transient API
 * errors are waited out. `req.onUsage` gets the usage of every request, once.
 */
export async function summarizeWithClaude(client: Anthropic, opts: ClaudeSummaryOptions, req: SummaryRequest): Promise<string> {
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: prompt(req) }];
  const repairs = opts.repairs ?? 1;
  const maxTokens = opts.maxTokens ?? 1500;
  const used: Usage[] = [];
  try {
    for (let round = 0; ; round++) {
      const message = await streamMessage(
        client,
        { model: opts.model, max_tokens: maxTokens, system: cachedSystem(opts.systemPrompt), messages },
        { call: "summary", log: opts.log, ...(opts.retry ? { retry: opts.retry } : {}) },
      );
      const usage = usageOf(message.usage, opts.model);
      used.push(usage);
      logUsage(opts.log, "summary", usage);
      const read = readSummary(message, maxTokens);
      if ("text" in read) return read.text;
      opts.log.warn({ kind: read.kind, problem: read.problem, round }, "Claude's summary is not usable; asking again");
      if (round >= repairs) throw finalError(read, round + 1, maxTokens);
      if (read.answer) messages.push({ role: "assistant", content: read.answer });
      messages.push({ role: "user", content: read.repair });
    }
  } finally {
    reportUsage(opts.log, req.onUsage, used);
  }
}

function finalError(read: Exclude<Read, { text: string }>, tries: number, maxTokens: number): ClaudeCallError {
  switch (read.kind) {
    case "refusal":
      return new ClaudeRefusedError("summary", tries, { detail: read.problem });
    case "max_tokens":
      return new ClaudeOutputCutError("summary", tries, maxTokens, { detail: read.problem });
    case "bad_output":
      return new ClaudeBadOutputError(
        "summary",
        `Claude's summary was not usable after ${tries} tries (${read.problem}). Retry.`,
        {
          detail: read.problem,
        },
      );
    default: {
      const never: never = read.kind;
      throw new Error(`unknown miss ${String(never)}`);
    }
  }
}

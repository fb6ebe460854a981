import type Anthropic from "@anthropic-ai/sdk";
import type { SummaryRequest } from "../types.js";
import { replyText, type StructuredCallOptions } from "./call.js";
import { cachedSystem } from "./client.js";
import { askWithRepairs, badOutputError, type Reading, stopMiss } from "./repair-loop.js";

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

function readSummary(message: Anthropic.Message, maxTokens: number): Reading<string, "refusal" | "max_tokens" | "bad_output"> {
  const stopped = stopMiss(message, maxTokens, {
    refusal:
      "Your last answer was a refusal. Summarise only what the steps above report; it is the team's own work. Write the summary.",
    maxTokens: () => "Your last answer was cut off at the output limit. Write the whole summary again, under 1500 characters.",
  });
  if (stopped) return stopped;
  const text = replyText(message).trim();
  if (!text)
    return { kind: "bad_output", problems: ["an empty answer"], repair: "Your last answer was empty. Write the summary." };
  if (text.length > MAX_SUMMARY_CHARS) {
    return {
      kind: "bad_output",
      problems: [`${text.length} characters, over ${MAX_SUMMARY_CHARS}`],
      repair: `That summary has ${text.length} characters; Slack shows at most ${MAX_SUMMARY_CHARS}. Write it again under 1500 characters.`,
      answer: text,
    };
  }
  return { value: text };
}

/**
 * The closing summary with Claude, streamed. A refusal, a cut answer, an empty one or one too long for Slack
 * goes back to Claude with the problem (`repairs` times), then ends in a ClaudeCallError; transient API
 * errors are waited out. `req.onUsage` gets the usage of every request, once.
 */
export function summarizeWithClaude(client: Anthropic, opts: ClaudeSummaryOptions, req: SummaryRequest): Promise<string> {
  return askWithRepairs(
    client,
    opts,
    {
      call: "summary",
      prompt: prompt(req),
      repairs: opts.repairs ?? 1,
      maxTokens: opts.maxTokens ?? 1500,
      system: cachedSystem(opts.systemPrompt),
      read: readSummary,
      badOutput: badOutputError("summary", "Claude's summary was"),
    },
    req.onUsage,
  );
}

import type Anthropic from "@anthropic-ai/sdk";
import { zodOutputFormat } from "@anthropic-ai/sdk/helpers/zod";
import { type StepWork, type Verdict, Verdict as VerdictSchema } from "@mllead/contracts";
import type { Logger } from "pino";
import { cachedSystem, logUsage } from "./client.js";

/** A file under review, with the step that owns it. */
export interface ReviewFile {
  path: string;
  stepId: string;
  content: string;
}

const MAX_FILE_CHARS = 60_000;

/**
 * The code reviewer's verdict from Claude, as structured output. Automated
 * check results (from the built-in static checks) are given as evidence.
 */
export async function reviewWithClaude(
  client: Anthropic,
  opts: { model: string; systemPrompt: string; log: Logger; maxTokens?: number },
  work: StepWork,
  files: ReviewFile[],
  automated: Verdict,
): Promise<Verdict> {
  const body = [
    `Task: ${work.task.text}`,
    `Review step: ${work.step.title}`,
    "",
    "Steps under review and what they reported:",
    ...work.reviewScope.map((r) => `- ${r.stepId} (${r.role}): ${r.result.summary}`),
    "",
    "Automated checks:",
    ...automated.checks.map((c) => `- ${c.category}: ${c.passed ? "passed" : "FAILED"} — ${c.detail}`),
    "",
    "Files (set ownerStepId on each finding to the step that owns the file):",
    ...files.map((f) => `\n=== ${f.path} (step ${f.stepId}) ===\n${f.content.slice(0, MAX_FILE_CHARS)}`),
    "",
    "Answer with your verdict in the given schema: approve unless there is a blocker or major finding.",
  ].join("\n");
  const res = await client.messages.parse({
    model: opts.model,
    max_tokens: opts.maxTokens ?? 6000,
    system: cachedSystem(opts.systemPrompt),
    messages: [{ role: "user", content: body }],
    output_config: { format: zodOutputFormat(VerdictSchema) },
  });
  logUsage(opts.log, "review", res.usage);
  if (!res.parsed_output) throw new Error(`Claude returned no verdict (stop reason: ${res.stop_reason ?? "unknown"})`);
  return VerdictSchema.parse(res.parsed_output);
}

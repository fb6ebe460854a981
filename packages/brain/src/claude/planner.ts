import type Anthropic from "@anthropic-ai/sdk";
import { zodOutputFormat } from "@anthropic-ai/sdk/helpers/zod";
import { type Plan, Plan as PlanSchema, validatePlan } from "@mllead/contracts";
import type { Logger } from "pino";
import type { PlanRequest } from "../types.js";
import { cachedSystem, logUsage } from "./client.js";

/** What Claude fills in: a plan without the `brain` label, which we set. */
export const PlanDraft = PlanSchema.omit({ brain: true });

/** Claude could not produce a plan that passes the team's rules. */
export class PlanRejectedError extends Error {
  readonly code = "plan_rejected";
  override readonly name = "PlanRejectedError";
}

const RULES = [
  "Answer with the plan as JSON in the given schema.",
  "Step ids are short lowercase words or kebab-case (letters, digits, '-', '_'), unique in the plan.",
  "Roles: data-engineer, ml-engineer, analyst, code-reviewer. Data work comes before model work; analysis depends on the model step whose metrics it reads; a code-reviewer step is always present, last, and depends on every step that changes code.",
  "Set changesCode=true on steps that write or change code, usesGpu=true on steps that run training on a GPU host.",
  "Every step has a concrete objective, context, specific requirements, measurable acceptance criteria and its next handoff.",
  "Give each acceptance criterion an id unique in its step (ac1, ac2, …) and make it checkable: the specialist must prove each one with evidence, or the step fails.",
  "Put every setting an executor needs in the step's params (dataset, target, model, epochs, learningRate, batchSize, seed, trials, metric, gpus, extra) — prose in the requirements is for people and is not read back.",
  "Name risks (leakage, drift, instability, metric regressions, memory) with a mitigation each.",
].join("\n");

function firstMessage(req: PlanRequest): string {
  if (!req.previous) return `Plan this task from <@${req.requester.userId}>:\n\n${req.text}\n\n${RULES}`;
  return [
    `Revise the plan for this task from <@${req.requester.userId}>:`,
    req.text,
    "",
    "The plan people saw:",
    JSON.stringify({ ...req.previous.plan, brain: undefined }, null, 1),
    "",
    "Changes they asked for (oldest first); answer every one of them:",
    ...req.previous.feedback.map((f, i) => `${i + 1}. ${f}`),
    "",
    RULES,
  ].join("\n");
}

/**
 * Plans with Claude: structured output in the Plan schema, then the team's DAG
 * rules. A plan that breaks them goes back to Claude with the problems listed,
 * up to `repairs` times.
 */
export async function planWithClaude(
  client: Anthropic,
  opts: { model: string; systemPrompt: string; log: Logger; repairs?: number; maxTokens?: number },
  req: PlanRequest,
): Promise<Plan> {
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: firstMessage(req) }];
  const repairs = opts.repairs ?? 2;
  for (let round = 0; ; round++) {
    const res = await client.messages.parse({
      model: opts.model,
      max_tokens: opts.maxTokens ?? 8000,
      system: cachedSystem(opts.systemPrompt),
      messages,
      output_config: { format: zodOutputFormat(PlanDraft) },
    });
    logUsage(opts.log, "plan", res.usage);
    const draft = res.parsed_output;
    if (!draft) throw new PlanRejectedError(`Claude returned no plan (stop reason: ${res.stop_reason ?? "unknown"})`);
    const plan: Plan = PlanSchema.parse({ ...draft, brain: "anthropic" });
    const problems = validatePlan(plan);
    if (problems.length === 0) return plan;
    opts.log.warn({ problems, round }, "Claude's plan broke the rules; asking for a repair");
    if (round >= repairs) {
      throw new PlanRejectedError(
        `the plan still breaks the team's rules after ${repairs} repairs: ${problems.map((p) => p.message).join("; ")}`,
      );
    }
    const text = res.content.find((b) => b.type === "text")?.text ?? JSON.stringify(draft);
    messages.push({ role: "assistant", content: text });
    messages.push({
      role: "user",
      content: `That plan breaks these rules:\n${problems.map((p) => `- ${p.message}`).join("\n")}\nSend the corrected plan.`,
    });
  }
}

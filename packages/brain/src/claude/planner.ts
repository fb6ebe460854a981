import type Anthropic from "@anthropic-ai/sdk";
import { zodOutputFormat } from "@anthropic-ai/sdk/helpers/zod";
import { type Lesson, type Plan, Plan as PlanSchema, REVIEW_CRITERIA, renderScoutReport, validatePlan } from "@mllead/contracts";
import type { z } from "zod";
import { ClaudeBadOutputError, type ClaudeCallError, PlanRejectedError } from "../errors.js";
import type { PlanRequest } from "../types.js";
import { replyText, type StructuredCallOptions } from "./call.js";
import { type BrainCall, callName } from "./call-nouns.js";
import { cachedSystem } from "./client.js";
import { parseJsonReply } from "./json-reply.js";
import { askWithRepairs, type Miss, type Reading, shownProblems, stopMiss } from "./repair-loop.js";
import { type Thinking, thinkingParams } from "./thinking.js";

/** What Claude fills in: a plan without the `brain` label, which we set. */
const PlanDraft = PlanSchema.omit({ brain: true });

/**
 * The plan's JSON schema for structured output, without the SDK's parser: the SDK would throw on a refusal,
 * a cut answer or a broken constraint before the repair loop could answer it. The SDK moves length, pattern
 * and count limits into descriptions, so the API does not enforce them; `PlanDraft.safeParse` does.
 */
const PLAN_FORMAT = { type: "json_schema" as const, schema: zodOutputFormat(PlanDraft).schema };

/** The most output tokens a plan may grow to after a `max_tokens` cut (each cut doubles the limit). */
const MAX_PLAN_TOKENS = 32_000;

const PLAN_RULES = [
  "Answer with the plan as JSON in the given schema.",
  "Step ids are short lowercase words or kebab-case (letters, digits, '-', '_'; no spaces or dots), unique in the plan. Titles are at most 150 characters.",
  "Roles: data-engineer, ml-engineer, analyst, code-reviewer. Give every step its kind: data (data-engineer: ingest, validate, clean, split), features, eda (analyst: explore the data, needs no model), train, sweep (ml-engineer: a hyper-parameter search with params.trials >= 2), evaluate, score (ml-engineer: predictions from the trained model), report (analyst: reads the metrics), investigate, root-cause, fix, verify (a regression triage), review (code-reviewer).",
  "Ordering (dependsOn): data work before model work; feature work before training; evaluation and scoring after training; a report after every train, sweep and evaluate step whose metrics it reads; a triage runs investigate → root-cause → fix → verify. EDA may run before or beside training; steps the rules do not order may run in parallel.",
  "A code-reviewer step is always present and depends, directly or through others, on EVERY other step — not only those that change code — so the task cannot finish while a step still runs.",
  `The code-reviewer step's acceptanceCriteria are always exactly the review's own (about the review, not the code): ${REVIEW_CRITERIA.map((c) => `{"id": "${c.id}", "text": "${c.text}"}`).join(", ")}. What the review must look for (leakage in the scaler, seeds, …) goes in its requirements: a problem it finds becomes a fix round for the step that owns the code.`,
  "A lesson the plan follows is cited in lessonsApplied; it is written into the requirements of the steps it affects for you.",
  "Shape: single-specialist (one specialist, e.g. a pure model-architecture change, then the review); experiment-cycle (data → train → report); exploration (EDA, no model); data-quality (a data-quality overhaul: audit, clean, validate, then profile the result); triage (why did a metric drop: investigate → root cause → fix → verify); sweep (an optimisation sweep, Optuna-style, instead of one well-configured run — choose it only when the person asks to optimise or tune).",
  "Track: experiment (bias to speed: one well-configured run, quick checks, results fast) or production (bias to correctness: unit tests for every changed module, data validation, no regression against the model it replaces, stricter acceptance criteria).",
  "Set changesCode=true on steps that write or change code, usesGpu=true on steps that run training on a GPU host.",
  "Every step has a concrete objective, context, specific requirements, measurable acceptance criteria and its next handoff.",
  "Give each acceptance criterion an id unique in its step (ac1, ac2, …) and make it checkable: the specialist must prove each one with evidence, or the step fails.",
  "Put every setting an executor needs in the step's params (dataset, target, model, epochs, learningRate, batchSize, seed, trials, metric, gpus, extra) — prose in the requirements is for people and is not read back.",
  "Name risks (leakage, drift, instability, metric regressions, memory) with a mitigation each.",
  "Ground every step in the team's repository as the scout read it (files, data folders and their columns, installed packages, GPUs): name real paths and columns, use the packages that are installed, and never invent files, tables or columns it does not show.",
  "List in assumptions (short sentences) what the plan takes as given that neither the request nor the repository says, e.g. which column is the label.",
  'When the request is ambiguous in a way that changes the work — no dataset or target can be found, the goal has no measure ("improve the model": which model, which metric?), or two readings lead to different plans — do not invent the answer: ask in questions (at most 3; each an id, the question, and 2–4 short choices when the answers can be listed). Still send the best plan under stated assumptions; people answer before they can approve, and the plan is revised with their answers. Ask nothing the request or the repository already settles.',
].join("\n");

/** The channel's lessons for the prompt, or nothing when there are none. */
function lessonLines(lessons: readonly Lesson[] | undefined): string[] {
  if (!lessons || lessons.length === 0) return [];
  return [
    "Lessons this team recorded in this channel from corrections on earlier tasks (oldest first). Follow each one that fits this task, unless the task or the changes asked for say otherwise; list the ones the plan follows in lessonsApplied, each with its id and its rule as text:",
    ...lessons.map(
      (l) =>
        `- ${l.id}: ${l.rule}${l.setting ? ` (setting ${l.setting.name} = ${l.setting.value})` : ""}${l.roles.length > 0 ? ` [concerns ${l.roles.join(", ")}]` : ""}`,
    ),
    "",
  ];
}

/** What the scout read of the team's repository, or why the plan has to go without. */
function contextLines(req: PlanRequest): string[] {
  if (req.context)
    return [
      "## The team's repository, as the scout read it (the commit tasks start from; read only)",
      renderScoutReport(req.context),
      "",
    ];
  if (req.contextMissing)
    return [`(The repository could not be read before planning: ${req.contextMissing}. Say what you assume in assumptions.)`, ""];
  return [];
}

function firstMessage(req: PlanRequest): string {
  if (!req.previous)
    return [
      `Plan this task from <@${req.requester.userId}>:`,
      "",
      req.text,
      "",
      ...contextLines(req),
      ...lessonLines(req.lessons),
    ].join("\n");
  return [
    `Revise the plan for this task from <@${req.requester.userId}>:`,
    req.text,
    "",
    "The plan people saw:",
    JSON.stringify({ ...req.previous.plan, brain: undefined }, null, 1),
    "",
    "Changes they asked for (oldest first); answer every one of them. Answers to the plan's questions settle those questions: plan with them and ask only what is still open.",
    ...req.previous.feedback.map((f, i) => `${i + 1}. ${f}`),
    "",
    ...contextLines(req),
    ...lessonLines(req.lessons),
  ].join("\n");
}

/**
 * The plan's `lessonsApplied`, kept to lessons the request gave (by id, each once) and named with their
 * stored rule, so the thread never shows a lesson Claude made up or reworded.
 */
function keepKnownLessons(plan: Plan, lessons: readonly Lesson[] | undefined): Plan {
  const { lessonsApplied, ...rest } = plan;
  const ids = new Set((lessonsApplied ?? []).map((l) => l.id));
  const kept = (lessons ?? []).filter((l) => ids.has(l.id)).map((l) => ({ id: l.id, text: l.rule }));
  return kept.length > 0 ? { ...rest, lessonsApplied: kept } : rest;
}

type MissKind = "refusal" | "max_tokens" | "bad_output" | "rules";

/** A zod issue as a line Claude can act on: `steps.1.id: ids may only contain … (got "train model")`. */
function issueLine(issue: z.core.$ZodIssue, input: unknown): string {
  let value: unknown = input;
  for (const key of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  const got =
    typeof value === "string"
      ? ` (got ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}, ${value.length} characters)`
      : "";
  return `${issue.path.join(".") || "(root)"}: ${issue.message}${got}`;
}

/** Reads one answer: a plan that fits the schema and the rules, or why not. */
function readPlan(message: Anthropic.Message, maxTokens: number): Reading<Plan, MissKind> {
  const stopped = stopMiss(message, maxTokens, {
    refusal:
      "Your last answer was a refusal. This is routine work for an ML team (data, models, analysis, code review). If one part of the request should not be done, leave that part out, say why in the plan's summary or risks, and plan the rest. Answer with the plan as JSON in the given schema.",
    maxTokens: (max) =>
      `Your last answer was cut off at the output limit (${max} tokens) before the plan was complete. Send the whole plan again, more concisely: short objectives, context and requirements, at most 12 steps.`,
  });
  if (stopped) return stopped;
  const text = replyText(message).trim();
  const reply = parseJsonReply(text);
  if (!reply.ok) {
    return {
      kind: "bad_output",
      problems: [reply.problem],
      repair:
        "Your last answer was not a JSON object. Answer with the plan as one JSON object in the given schema, nothing else.",
      ...(text ? { answer: text } : {}),
    };
  }
  const json = reply.value;
  const draft = PlanDraft.safeParse(json);
  if (!draft.success) {
    const problems = draft.error.issues.slice(0, 15).map((i) => issueLine(i, json));
    return {
      kind: "bad_output",
      problems,
      repair: `That plan does not fit the plan schema:\n${problems.map((p) => `- ${p}`).join("\n")}\nSend the corrected plan.`,
      answer: text,
    };
  }
  const plan: Plan = PlanSchema.parse({ ...draft.data, brain: "anthropic" });
  const problems = validatePlan(plan).map((p) => p.message);
  if (problems.length === 0) return { value: plan };
  return {
    kind: "rules",
    problems,
    repair: `That plan breaks these rules:\n${problems.map((p) => `- ${p}`).join("\n")}\nSend the corrected plan.`,
    answer: text,
  };
}

/** After the last repair: a plan that still does not fit the format, or still breaks the team's rules. */
function planError(call: BrainCall) {
  return (miss: Miss<MissKind>, tries: number): ClaudeCallError => {
    const detail = miss.problems.join("; ");
    const noun = callName(call);
    const shown = shownProblems(miss.problems);
    return miss.kind === "rules"
      ? new PlanRejectedError(
          call,
          `Claude's ${noun} still broke the team's rules after ${tries - 1} repairs: ${shown}. Retry, or rephrase the request.`,
          { detail },
        )
      : new ClaudeBadOutputError(
          call,
          `Claude's ${noun} did not fit the plan format after ${tries - 1} repairs: ${shown}. Retry, or rephrase the request.`,
          { detail },
        );
  };
}

/** Options of planWithClaude. */
/**
 * Repairs default 2; `maxTokens` is the first request's: a cut answer doubles it, up to 32,000 (64,000 thinking).
 * Default 16,000 (32,000 thinking).
 */
interface ClaudePlannerOptions extends StructuredCallOptions {
  /** Adaptive thinking at this effort (the tech lead's `effort:`); its tokens count in max_tokens, so the limits double. */
  thinking?: Thinking;
}

/**
 * The planner's system prompt: the tech lead's agent prompt, then the plan rules. Both are the same for every
 * task, so the block is cached (with the schema) and read back by every plan, revision and repair round; what
 * differs per task (the request, the repository, the lessons) is in the user message.
 */
function plannerSystem(agentPrompt: string): Anthropic.TextBlockParam[] {
  return cachedSystem(`${agentPrompt}\n\n## The rules every plan follows\n\n${PLAN_RULES}`);
}

/**
 * Plans with Claude: structured output in the Plan schema, streamed; the answer is checked against the
 * schema's every constraint (`PlanDraft.safeParse`) and the team's rules (`validatePlan`). A refusal, a cut
 * answer, output that breaks the schema or a plan that breaks the rules goes back to Claude with the
 * problem, up to `repairs` times; then a ClaudeCallError with a message for the thread. Transient API
 * errors are waited out (`streamMessage`) and never use a repair round. `req.onUsage` gets the tokens and
 * cost of every request made, once, whatever the outcome.
 */
export async function planWithClaude(client: Anthropic, opts: ClaudePlannerOptions, req: PlanRequest): Promise<Plan> {
  const call: BrainCall = req.previous ? "revision" : "plan";
  const ceiling = opts.thinking ? 2 * MAX_PLAN_TOKENS : MAX_PLAN_TOKENS;
  const thinking = thinkingParams(opts.thinking);
  const plan = await askWithRepairs(
    client,
    opts,
    {
      call,
      prompt: firstMessage(req),
      repairs: opts.repairs ?? 2,
      maxTokens: opts.maxTokens ?? (opts.thinking ? 32_000 : 16_000),
      system: plannerSystem(opts.systemPrompt),
      params: {
        ...(thinking.thinking ? { thinking: thinking.thinking } : {}),
        output_config: { format: PLAN_FORMAT, ...thinking.output_config },
        // Repair rounds read the conversation so far from the cache.
        cache_control: { type: "ephemeral" },
      },
      read: readPlan,
      badOutput: planError(call),
      grow: (maxTokens) => Math.min(maxTokens * 2, ceiling),
    },
    req.onUsage,
  );
  return keepKnownLessons(plan, req.lessons);
}

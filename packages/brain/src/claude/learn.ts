import type Anthropic from "@anthropic-ai/sdk";
import { zodOutputFormat } from "@anthropic-ai/sdk/helpers/zod";
import {
  LESSON_RULE_MAX,
  LESSON_SETTINGS,
  type LearnedLesson,
  type Lesson,
  LessonScope,
  LessonSetting,
  type Plan,
  ROLES,
  Role,
  type Usage,
} from "@mllead/contracts";
import { z } from "zod";
import type { FindingLessonRequest, LearnRequest } from "../types.js";
import { replyText, type StructuredCallOptions } from "./call.js";
import { cachedSystem } from "./client.js";
import { parseJsonReply } from "./json-reply.js";
import { blockQuote } from "./quote.js";
import { askWithRepairs, badOutputError, type Reading, stopMiss } from "./repair-loop.js";

/** The answer Claude gives in the schema: the lessons a correction teaches, each standing or one-off. */
const LessonsAnswer = z.object({
  lessons: z
    .array(
      z.object({
        scope: LessonScope,
        rule: z.string().min(1).max(LESSON_RULE_MAX),
        roles: z.array(Role).max(4),
        setting: LessonSetting.optional(),
        reinforces: z.string().optional(),
      }),
    )
    .max(5),
});
type LessonsAnswer = z.infer<typeof LessonsAnswer>;

/** The schema for structured output; `LessonsAnswer.safeParse` checks what the API does not enforce. */
const LESSONS_FORMAT = { type: "json_schema" as const, schema: zodOutputFormat(LessonsAnswer).schema };

const ANSWER_RULES = [
  "Answer in the given schema: `lessons`, one entry per thing to remember (at most 5; none when the correction teaches nothing).",
  '- scope "standing": a rule the team should follow on later tasks in this channel (a standard, a preference about how the team works: "always fit the scaler on train only"). scope "one-off": about this task only ("use 30 epochs for this one", drop a step, use this dataset) — it shapes this task and is not kept. When unsure, one-off.',
  `- rule: one short imperative sentence (at most ${LESSON_RULE_MAX} characters), e.g. "Fit the scaler on the train split only". If it says what a lesson below already says, use that lesson's words, updated where the correction changes them.`,
  "- reinforces: when the lesson says again what a lesson below already says (the same rule, perhaps with a new value), that lesson's id (e.g. L3); otherwise leave it out.",
  `- roles: the roles whose steps the rule affects (${ROLES.join(", ")}); at least one for a standing rule.`,
  `- setting: only when the rule is exactly one setting (${LESSON_SETTINGS.join(", ")}), with its value (a number, or the model family as text); otherwise leave it out.`,
].join("\n");

function keptLessons(lessons: readonly Lesson[]): string[] {
  if (lessons.length === 0) return ["The channel keeps no lessons yet."];
  return [
    "Lessons the channel keeps already (oldest first):",
    ...lessons.map((l) => `- ${l.id}: ${l.rule}${l.roles.length ? ` [concerns ${l.roles.join(", ")}]` : ""}`),
  ];
}

function planLines(plan: Plan | undefined): string[] {
  if (!plan) return [];
  return [
    `The plan: ${plan.summary}`,
    ...plan.steps.map((s) => `- ${s.id} (${s.role}${s.kind ? `, ${s.kind}` : ""}): ${s.title}`),
  ];
}

function learnPrompt(req: LearnRequest): string {
  return [
    `A person asked for changes to the plan of task ${req.taskId}. Decide what, if anything, the team should remember for this channel's later tasks.`,
    "",
    ...planLines(req.plan),
    "",
    "Their words:",
    blockQuote(req.feedback),
    "",
    ...keptLessons(req.lessons),
    "",
    ANSWER_RULES,
  ].join("\n");
}

function findingPrompt(req: FindingLessonRequest): string {
  const f = req.finding;
  return [
    `The code reviewer of task ${req.taskId} found a problem that sent the code back for a fix round. Decide whether it teaches the team a standing rule for this channel's later tasks (at most one lesson).`,
    "",
    ...planLines(req.plan),
    "",
    `The finding: [${f.severity}/${f.category}]${f.file ? ` ${f.file}${f.line ? `:${f.line}` : ""}` : ""} ${f.message}`,
    req.ownerRole ? `The code belongs to the ${req.ownerRole}'s step.` : "",
    "",
    ...keptLessons(req.lessons),
    "",
    ANSWER_RULES,
  ]
    .filter((l, i, all) => l !== "" || all[i - 1] !== "")
    .join("\n");
}

/** Options of learnWithClaude and findingLessonWithClaude: repairs default 1, maxTokens 2,000. */
type ClaudeLearnOptions = StructuredCallOptions;

function readAnswer(
  message: Anthropic.Message,
  maxTokens: number,
  max: number,
  kept: ReadonlySet<string>,
): Reading<LessonsAnswer, MissKind> {
  const stopped = stopMiss(message, maxTokens, {
    refusal: "Your last answer was a refusal. This is the team's own feedback on its work. Answer in the schema.",
    maxTokens: () => "Your answer was cut off. Answer again, shorter.",
  });
  if (stopped) return stopped;
  const text = replyText(message).trim();
  const json = parseJsonReply(text);
  if (!json.ok) {
    return {
      kind: "bad_output",
      problems: [json.problem],
      repair: "Answer with one JSON object in the given schema, nothing else.",
      ...(text ? { answer: text } : {}),
    };
  }
  const parsed = LessonsAnswer.safeParse(json.value);
  const problems = parsed.success
    ? parsed.data.lessons.length > max
      ? [`lessons: at most ${max} here`]
      : parsed.data.lessons.flatMap((l, i) => [
          ...(l.scope === "standing" && l.roles.length === 0
            ? [`lessons.${i}.roles: a standing rule names the roles it affects`]
            : []),
          ...(l.reinforces !== undefined && !kept.has(l.reinforces)
            ? [`lessons.${i}.reinforces: '${l.reinforces}' is not the id of a lesson listed (leave it out for a new lesson)`]
            : []),
        ])
    : parsed.error.issues.slice(0, 8).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  if (parsed.success && problems.length === 0) return { value: parsed.data };
  return {
    kind: "bad_output",
    problems,
    repair: `That answer does not fit:\n${problems.map((p) => `- ${p}`).join("\n")}\nSend the corrected answer.`,
    answer: text,
  };
}

type MissKind = "refusal" | "max_tokens" | "bad_output";

/** One structured call with repair rounds; `onUsage` gets every request's usage, once. */
async function ask(
  client: Anthropic,
  opts: ClaudeLearnOptions,
  prompt: string,
  max: number,
  req: { lessons: readonly Lesson[]; onUsage?: ((u: Usage) => void) | undefined },
): Promise<LearnedLesson[]> {
  const kept = new Set(req.lessons.map((l) => l.id));
  const answer = await askWithRepairs(
    client,
    opts,
    {
      call: "lesson",
      prompt,
      repairs: opts.repairs ?? 1,
      maxTokens: opts.maxTokens ?? 2000,
      system: cachedSystem(opts.systemPrompt),
      params: { output_config: { format: LESSONS_FORMAT } },
      read: (message, maxTokens) => readAnswer(message, maxTokens, max, kept),
      badOutput: badOutputError("lesson", "Claude's lessons were"),
    },
    req.onUsage,
  );
  return answer.lessons.map((l) => ({
    scope: l.scope,
    rule: l.rule,
    roles: [...new Set(l.roles)],
    ...(l.setting ? { setting: l.setting } : {}),
    ...(l.reinforces ? { reinforces: l.reinforces } : {}),
  }));
}

/**
 * The lessons a person's change request teaches, read by Claude in a schema: each standing (a rule for the
 * channel) or one-off (this task only). No pattern matching over the person's words.
 */
export function learnWithClaude(client: Anthropic, opts: ClaudeLearnOptions, req: LearnRequest): Promise<LearnedLesson[]> {
  return ask(client, opts, learnPrompt(req), 5, req);
}

/** The lesson a reviewer's finding teaches, by Claude in the same schema, or null when it teaches none. */
export async function findingLessonWithClaude(
  client: Anthropic,
  opts: ClaudeLearnOptions,
  req: FindingLessonRequest,
): Promise<LearnedLesson | null> {
  const [lesson] = await ask(client, opts, findingPrompt(req), 1, req);
  return lesson ?? null;
}

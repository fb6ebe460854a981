import type Anthropic from "@anthropic-ai/sdk";
import type { AgentDefinition } from "@mllead/agents";
import { type StepResult, type StepWork, withCost } from "@mllead/contracts";
import type { Logger } from "pino";
import { MissingAgentError, StepLoopError } from "../errors.js";
import type { Brain, StepTools, SummaryRequest } from "../types.js";
import { type RetryPolicy, retryTransient } from "./call.js";
import { citeLessons } from "./cite-lessons.js";
import { resolveModel } from "./client.js";
import { findingLessonWithClaude, learnWithClaude } from "./learn.js";
import { planWithClaude } from "./planner.js";
import { reviewEvidence } from "./review-evidence.js";
import { runStepLoop } from "./specialist.js";
import { DEFAULT_STEP_LIMITS, type StepLoopLimits } from "./step-limits.js";
import { limitsLines, stepPrompt } from "./step-prompt.js";
import { summarizeWithClaude } from "./summary.js";
import { type ThinkingSetting, thinkingFor } from "./thinking.js";

interface ClaudeBrainOptions {
  client: Anthropic;
  agents: ReadonlyMap<string, AgentDefinition>;
  log: Logger;
  /** MLLEAD_CLAUDE_MODEL: one model id for every call, instead of each agent file's `model`. */
  model?: string;
  /** Limits of each step's tool loop (defaults in DEFAULT_STEP_LIMITS). */
  stepLimits?: Partial<StepLoopLimits>;
  /** How plan, summary and step calls wait out an overloaded or unreachable API (DEFAULT_RETRY: about 2 minutes). */
  retry?: Partial<RetryPolicy>;
  /** Repair rounds of a plan after Claude's first answer. Default 2. */
  planRepairs?: number;
  /**
   * MLLEAD_THINKING: `agents` (default: adaptive thinking for the agents whose file sets `effort:` — the tech
   * lead's plans and the code reviewer's loop), `off`, or an effort level for every agent's plans and steps.
   */
  thinking?: ThinkingSetting;
}

function agent(opts: ClaudeBrainOptions, name: string): AgentDefinition {
  const a = opts.agents.get(name);
  if (!a) throw new MissingAgentError(`no agent definition named '${name}' (looked in agents/ and MLLEAD_AGENTS_DIR)`);
  return a;
}

const modelFor = (opts: ClaudeBrainOptions, a: AgentDefinition) => resolveModel(a.model, opts.model);

function thinkingOf(opts: ClaudeBrainOptions, a: AgentDefinition) {
  const thinking = thinkingFor(a.effort, opts.thinking);
  return thinking ? { thinking } : {};
}

/** What every tech-lead call (plan, summary, lessons) is given: the lead's model and prompt, a task's log, the retry. */
function leadOptions(opts: ClaudeBrainOptions, taskId: string) {
  const lead = agent(opts, "tech-lead");
  return {
    model: modelFor(opts, lead),
    systemPrompt: lead.systemPrompt,
    log: opts.log.child({ taskId }),
    ...(opts.retry ? { retry: opts.retry } : {}),
  };
}

/** A step as its agent's Claude tool loop, an overloaded API waited out, the usage priced. */
async function loop(
  opts: ClaudeBrainOptions,
  work: StepWork,
  tools: StepTools,
  first: () => Promise<string>,
): Promise<StepResult> {
  const a = agent(opts, work.role);
  const model = modelFor(opts, a);
  const run = () =>
    runStepLoop(
      opts.client,
      {
        model,
        systemPrompt: a.systemPrompt,
        agentTools: a.tools,
        ...thinkingOf(opts, a),
        log: tools.log,
        ...(opts.stepLimits ? { limits: opts.stepLimits } : {}),
      },
      work,
      tools,
      // The limits are said up front, after everything else the step is told.
      async () => [await first(), "", ...limitsLines({ ...DEFAULT_STEP_LIMITS, ...opts.stepLimits })].join("\n"),
    );
  // An overloaded API mid-step is waited out here, so it does not fail the step (and spend a re-plan). The
  // loop resumes from its saved transcript without repeating a tool call; without one it would start over
  // and repeat side effects, so then the error is only named transient (TransientBrainError) for the caller.
  const retry = tools.transcript ? (opts.retry ?? {}) : { ...opts.retry, retries: 0 };
  const result = await retryTransient(run, { call: "step", log: tools.log, retry }).catch((err: unknown) => {
    if (err instanceof StepLoopError && err.usage) err.usage = withCost(err.usage, model);
    throw err;
  });
  // The loop counts tokens; the model names them and the price table turns them into a cost. (Priced as a
  // sum at the base rates: a Haiku 5.5 request over 100k prompt tokens would cost more; see costOf.)
  return result.usage ? { ...result, usage: withCost(result.usage, model) } : result;
}

/** The code review: the diff and the static evidence in the prompt; Claude's verdict is the verdict. */
async function review(opts: ClaudeBrainOptions, work: StepWork, tools: StepTools): Promise<StepResult> {
  // Evidence, never a veto: the pattern checks and analysers go into the prompt; Claude's verdict stands.
  const result = await loop(opts, work, tools, async () => {
    const evidence = await reviewEvidence(work, tools);
    tools.log.info({ analysers: evidence.analysers }, "review evidence gathered");
    return stepPrompt(work, tools, { ...(tools.repo ? { diff: await tools.repo.diff() } : {}), evidence: evidence.lines });
  });
  if (!result.verdict) return result;
  return {
    ...result,
    summary: `${result.verdict.decision === "approve" ? "Approved" : "Changes requested"}: ${result.summary}`,
  };
}

/**
 * The Claude brain: the tech lead plans and summarises with Claude, and every
 * specialist step is a Claude tool loop (the SDK's tool runner) in the task's
 * worktree with Claude Code's tools plus SubmitGpuJob and FinishStep. The code
 * reviewer also gets the built-in static checks and the sandbox's analysers as
 * evidence to weigh; Claude's verdict is the verdict. Lessons are Claude's
 * structured answers (`learn`, `lessonFromFinding`).
 */
export function createClaudeBrain(opts: ClaudeBrainOptions): Brain {
  return {
    kind: "anthropic",
    async plan(req) {
      const lead = agent(opts, "tech-lead");
      const plan = await planWithClaude(
        opts.client,
        {
          ...leadOptions(opts, req.taskId),
          ...(opts.planRepairs !== undefined ? { repairs: opts.planRepairs } : {}),
          ...thinkingOf(opts, lead),
        },
        req,
      );
      // The lessons it cites are written into the requirements of the steps they affect.
      return citeLessons(plan, req.lessons);
    },
    async runStep(work, tools) {
      if (work.role === "code-reviewer") return review(opts, work, tools);
      return loop(opts, work, tools, async () => stepPrompt(work, tools));
    },
    async summarize(req: SummaryRequest) {
      return summarizeWithClaude(opts.client, leadOptions(opts, req.taskId), req);
    },
    async learn(req) {
      return learnWithClaude(opts.client, leadOptions(opts, req.taskId), req);
    },
    async lessonFromFinding(req) {
      return findingLessonWithClaude(opts.client, leadOptions(opts, req.taskId), req);
    },
  };
}

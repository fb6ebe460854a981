import type Anthropic from "@anthropic-ai/sdk";
import type { AgentDefinition } from "@mllead/agents";
import type { StepResult, StepWork } from "@mllead/contracts";
import type { Logger } from "pino";
import type { Brain, StepTools, SummaryRequest } from "../types.js";
import { cachedSystem, logUsage, resolveModel } from "./client.js";
import { planWithClaude } from "./planner.js";
import { runStepLoop, type StepLoopLimits } from "./specialist.js";
import { stepPrompt } from "./step-prompt.js";
import { mergeVerdicts } from "./verdict.js";

/** An agent file the Claude brain needs is missing. */
export class MissingAgentError extends Error {
  readonly code = "agent_missing";
  override readonly name = "MissingAgentError";
}

export interface ClaudeBrainOptions {
  client: Anthropic;
  agents: ReadonlyMap<string, AgentDefinition>;
  /** Runs the automated review checks (the offline reviewer's static checks) that the Claude reviewer weighs. */
  executor: Brain;
  log: Logger;
  /** MLLEAD_CLAUDE_MODEL: one model id for every call, instead of each agent file's `model`. */
  model?: string;
  /** Limits of each step's tool loop (defaults in DEFAULT_STEP_LIMITS). */
  stepLimits?: Partial<StepLoopLimits>;
}

/**
 * The Claude brain: the tech lead plans and summarises with Claude, and every
 * specialist step is a Claude tool loop (the SDK's tool runner) in the task's
 * worktree with Claude Code's tools plus SubmitGpuJob and FinishStep. The code
 * reviewer also gets the built-in static checks as evidence, and their blockers
 * stand beside Claude's findings.
 */
export function createClaudeBrain(opts: ClaudeBrainOptions): Brain {
  const agent = (name: string): AgentDefinition => {
    const a = opts.agents.get(name);
    if (!a) throw new MissingAgentError(`no agent definition named '${name}' (looked in agents/ and MLLEAD_AGENTS_DIR)`);
    return a;
  };
  const modelFor = (a: AgentDefinition) => resolveModel(a.model, opts.model);

  function loop(work: StepWork, tools: StepTools, first: () => Promise<string>): Promise<StepResult> {
    const a = agent(work.role);
    return runStepLoop(
      opts.client,
      {
        model: modelFor(a),
        systemPrompt: a.systemPrompt,
        agentTools: a.tools,
        log: tools.log,
        ...(opts.stepLimits ? { limits: opts.stepLimits } : {}),
      },
      work,
      tools,
      first,
    );
  }

  async function review(work: StepWork, tools: StepTools): Promise<StepResult> {
    const automated = (await opts.executor.runStep(work, tools)).verdict;
    const checks = (automated?.checks ?? []).map((c) => `- ${c.category}: ${c.passed ? "passed" : "FAILED"} — ${c.detail}`);
    const result = await loop(work, tools, async () =>
      stepPrompt(work, tools, { ...(tools.repo ? { diff: await tools.repo.diff() } : {}), automatedChecks: checks }),
    );
    if (!result.verdict) return result;
    const verdict = mergeVerdicts(result.verdict, automated);
    return {
      ...result,
      summary: `${verdict.decision === "approve" ? "Approved" : "Changes requested"}: ${result.summary}`,
      verdict,
    };
  }

  return {
    kind: "anthropic",
    async plan(req) {
      const lead = agent("tech-lead");
      return planWithClaude(
        opts.client,
        { model: modelFor(lead), systemPrompt: lead.systemPrompt, log: opts.log.child({ taskId: req.taskId }) },
        req,
      );
    },
    async runStep(work, tools) {
      if (work.role === "code-reviewer") return review(work, tools);
      return loop(work, tools, async () => stepPrompt(work, tools));
    },
    async summarize(req: SummaryRequest) {
      const lead = agent("tech-lead");
      const res = await opts.client.messages.create({
        model: modelFor(lead),
        max_tokens: 1500,
        system: cachedSystem(lead.systemPrompt),
        messages: [
          {
            role: "user",
            content: [
              `Write the closing summary for the Slack thread of this task: ${req.text}`,
              "Say what was done, the key numbers against the baseline, the reviewer's verdict, where the artifacts are, and the next steps. Under 1500 characters, Slack mrkdwn.",
              "",
              ...req.results.map(
                (r) => `${r.stepId} (${r.role}): ${r.result.summary} metrics=${JSON.stringify(r.result.metrics)}`,
              ),
              req.verdict ? `Verdict: ${req.verdict.decision} — ${req.verdict.summary}` : "",
            ].join("\n"),
          },
        ],
      });
      logUsage(opts.log, "summary", res.usage);
      const text = res.content
        .filter((b): b is Anthropic.TextBlock => b.type === "text")
        .map((b) => b.text)
        .join("\n")
        .trim();
      if (!text) throw new Error("Claude returned an empty summary");
      return text;
    },
  };
}

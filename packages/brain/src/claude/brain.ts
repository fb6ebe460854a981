import type Anthropic from "@anthropic-ai/sdk";
import type { AgentDefinition } from "@mllead/agents";
import type { StepResult, StepWork } from "@mllead/contracts";
import type { Logger } from "pino";
import type { Brain, StepTools, SummaryRequest } from "../types.js";
import { cachedSystem, logUsage, resolveModel } from "./client.js";
import { planWithClaude } from "./planner.js";
import { type ReviewFile, reviewWithClaude } from "./reviewer.js";

/** An agent file the Claude brain needs is missing. */
export class MissingAgentError extends Error {
  readonly code = "agent_missing";
  override readonly name = "MissingAgentError";
}

export interface ClaudeBrainOptions {
  client: Anthropic;
  agents: ReadonlyMap<string, AgentDefinition>;
  /** Carries out the steps Claude does not run yet (the built-in executors) and the automated review checks. */
  executor: Brain;
  log: Logger;
  /** MLLEAD_CLAUDE_MODEL: one model id for every call, instead of each agent file's `model`. */
  model?: string;
}

const CODE_FILE = /\.(py|ipynb|sql|ts|js|sh|ya?ml|toml|cfg|txt|md)$/i;
const MAX_REVIEW_FILES = 20;

/**
 * The Claude brain: the tech lead plans and summarises with Claude, and the code
 * reviewer's verdict comes from Claude reading the changed files. Data, model
 * and analysis steps run on the built-in executors (real scripts, real jobs);
 * Claude-driven tool loops for them come with the specialists' tool runner.
 */
export function createClaudeBrain(opts: ClaudeBrainOptions): Brain {
  const agent = (name: string): AgentDefinition => {
    const a = opts.agents.get(name);
    if (!a) throw new MissingAgentError(`no agent definition named '${name}' (looked in agents/ and MLLEAD_AGENTS_DIR)`);
    return a;
  };
  const modelFor = (a: AgentDefinition) => resolveModel(a.model, opts.model);

  async function review(work: StepWork, tools: StepTools): Promise<StepResult> {
    const automated = await opts.executor.runStep(work, tools);
    const files: ReviewFile[] = [];
    for (const r of work.reviewScope) {
      for (const a of r.result.artifacts) {
        if (files.length >= MAX_REVIEW_FILES || !CODE_FILE.test(a.name)) continue;
        if (r.result.filesChanged.length > 0 && !r.result.filesChanged.some((f) => f.endsWith(a.name))) continue;
        const path = `review/${r.stepId}/${a.name}`;
        await tools.fetchArtifact(a, path);
        files.push({ path: a.name, stepId: r.stepId, content: await tools.readFile(path) });
      }
    }
    const reviewer = agent("code-reviewer");
    await tools.progress(`Claude is reviewing ${files.length} file(s)`);
    const verdict = await reviewWithClaude(
      opts.client,
      { model: modelFor(reviewer), systemPrompt: reviewer.systemPrompt, log: tools.log },
      work,
      files,
      automated.verdict ?? { decision: "approve", summary: "no automated checks", findings: [], checks: [] },
    );
    return {
      ...automated,
      summary: `${verdict.decision === "approve" ? "Approved" : "Changes requested"}: ${verdict.summary}`,
      verdict: { ...verdict, checks: automated.verdict?.checks ?? verdict.checks },
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
      return opts.executor.runStep(work, tools);
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

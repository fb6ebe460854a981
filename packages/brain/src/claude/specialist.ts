import type Anthropic from "@anthropic-ai/sdk";
import { betaZodTool } from "@anthropic-ai/sdk/helpers/beta/zod";
import type {
  BetaContentBlockParam,
  BetaMessage,
  BetaMessageParam,
  BetaToolUseBlock,
} from "@anthropic-ai/sdk/resources/beta/messages/messages";
import type { StepResult, StepWork, Usage } from "@mllead/contracts";
import type { Logger } from "pino";
import { z } from "zod";
import { createToolbox, type Toolbox, type ToolName, type ToolOutput, toolsFor } from "../tools/index.js";
import type { StepTools, Transcript } from "../types.js";
import { budgetNotes, notedBudgets, spentTokens, withNotes } from "./budget.js";
import { cachedSystem } from "./client.js";
import { clearOldToolResults } from "./context.js";
import { isRetryableStepError, StepLoopError } from "./errors.js";
import { journalFor, saver } from "./journal.js";
import { workingRules } from "./step-prompt.js";
import { type Thinking, thinkingParams } from "./thinking.js";

/** Limits of one step's tool loop. */
export interface StepLoopLimits {
  /** Model requests per step attempt (across resumes). Default 60. */
  maxIterations: number;
  /** Tokens per step attempt: input + output + cache reads + cache writes. Default 4,000,000. */
  tokenBudget: number;
  /** Wall-clock limit per step attempt in ms, counted from its first start (GPU waits included). Default 6 h. */
  timeLimitMs: number;
  /** When tool results in the conversation pass this many characters, the older ones are cleared. Default 160,000. */
  clearToolResultsOverChars: number;
  /** max_tokens of each request. Default 16,000. */
  maxTokens: number;
}

export const DEFAULT_STEP_LIMITS: StepLoopLimits = {
  maxIterations: 60,
  tokenBudget: 4_000_000,
  timeLimitMs: 6 * 3600_000,
  clearToolResultsOverChars: 160_000,
  maxTokens: 16_000,
};

/** What a step's loop is given besides the work and tools. */
export interface StepLoopOptions {
  model: string;
  /** The agent file's prompt; mllead's working rules are appended. */
  systemPrompt: string;
  /** The agent file's `tools:` line (empty = all). */
  agentTools: readonly string[];
  log: Logger;
  limits?: Partial<StepLoopLimits>;
  /** Adaptive thinking at this effort (the agent file's `effort:`, or MLLEAD_THINKING); absent: the model's default. */
  thinking?: Thinking;
}

/** Times the loop asks a model that stopped talking to call FinishStep before the step fails. */
const NUDGES = 2;

const ZERO: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, requests: 0, toolCalls: 0 };

function addMessageUsage(total: Usage, u: BetaMessage["usage"]): void {
  total.inputTokens += u.input_tokens;
  total.outputTokens += u.output_tokens;
  total.cacheReadTokens += u.cache_read_input_tokens ?? 0;
  total.cacheWriteTokens += u.cache_creation_input_tokens ?? 0;
  total.requests += 1;
}

const spent = spentTokens;

function toolUses(message: BetaMessageParam | undefined): BetaToolUseBlock[] {
  if (message?.role !== "assistant" || typeof message.content === "string") return [];
  return message.content.filter((b): b is BetaToolUseBlock => b.type === "tool_use");
}

/** Messages persisted as plain JSON params. */
function asParam(message: BetaMessage): BetaMessageParam {
  return { role: "assistant", content: message.content as BetaContentBlockParam[] };
}

/**
 * What the tools of one reply share: how many calls the reply makes (FinishStep must be alone), and the halt a
 * tool pulls when it meets a RetryableStepError, which stops the loop before its next request.
 */
interface TurnState {
  calls: number;
  halt(err: unknown): void;
  halted(): boolean;
}

const FINISH_ALONE =
  "FinishStep was not run: call it alone, in a turn of its own. The other calls of this turn ran; read their results above, then call FinishStep by itself.";

/**
 * The toolbox as the SDK's runnable tools. Every finished call is journalled in
 * the transcript by its tool_use id: a loop resumed after a crash answers those
 * from the journal instead of running them again. A `Bash` call that was running
 * when the process died is not repeated (it may have half-run): the model is told.
 * A `Write` or `Edit` journals its intent (the file's hash before and after) before
 * it changes the file, so an interrupted one is found applied, or applied once.
 * Other calls repeat safely: reads, and GPU jobs, whose id comes from their content
 * so the same job is found again.
 */
function runnableTools(
  toolbox: Toolbox,
  transcript: Transcript,
  interrupted: Set<string>,
  save: (strict?: boolean) => Promise<void>,
  turn: TurnState,
) {
  const specs = toolbox.specs();
  return specs.map((spec, i) =>
    betaZodTool({
      name: spec.name,
      description: spec.description,
      inputSchema: spec.input as z.ZodObject,
      ...(i === specs.length - 1 ? { cache_control: { type: "ephemeral" as const } } : {}),
      run: async (input: unknown, ctx) => {
        const id = ctx?.toolUse.id;
        const journalled = id ? transcript.toolResults[id] : undefined;
        if (journalled) {
          if (journalled.isError) throw new Error(journalled.content);
          return journalled.content;
        }
        let content: ToolOutput;
        let isError = false;
        if (spec.name === "FinishStep" && turn.calls > 1) {
          content = FINISH_ALONE;
          isError = true;
        } else if (id && interrupted.has(id) && spec.name === "Bash") {
          content =
            "This command was running when the specialist restarted, so it may have run in part. It was not run again: check the state of the files before you decide to run it again.";
          isError = true;
        } else {
          try {
            const journal =
              id && (spec.name === "Write" || spec.name === "Edit")
                ? journalFor(id, transcript, interrupted.has(id), save)
                : undefined;
            content = await toolbox.callForModel(spec.name, input, journal ? { journal } : {});
          } catch (err) {
            // The bus down or the process stopping is no tool error for the model: the loop ends, the step is redelivered.
            if (isRetryableStepError(err)) turn.halt(err);
            if (turn.halted()) throw err;
            content = err instanceof z.ZodError ? z.prettifyError(err) : err instanceof Error ? err.message : String(err);
            isError = true;
          }
        }
        // A call cut short by the halt is not journalled: the redelivered step runs it again (or says it was interrupted).
        if (turn.halted()) throw new Error("the step stopped for redelivery");
        // An answer with an image (a Read, which repeats safely) is not journalled: the image stays out of the journal.
        if (id && typeof content === "string") {
          transcript.toolResults[id] = { content, isError };
          await save();
        }
        if (isError) throw new Error(typeof content === "string" ? content : "the tool failed");
        return content;
      },
    }),
  );
}

/**
 * Runs one step as a Claude tool loop with the SDK's tool runner: the agent's prompt and the tool definitions
 * cached, and the growing conversation cached too (top-level `cache_control`: each turn reads the history from
 * the cache); every turn streamed, so a long reply (a big `Write`) is never cut by a request timeout; adaptive
 * thinking when the agent asks for it. Claude Code's tools plus SubmitGpuJob and FinishStep, and limits on
 * requests, tokens and time, with a note to the model at 80 % of each. The conversation is saved after every
 * reply and tool call, so a specialist killed mid-step, or one whose tool met the bus down
 * (RetryableStepError), resumes where it was. Ends when FinishStep records a result.
 */
export async function runStepLoop(
  client: Anthropic,
  opts: StepLoopOptions,
  work: StepWork,
  tools: StepTools,
  firstMessage: () => Promise<string>,
): Promise<StepResult> {
  const limits = { ...DEFAULT_STEP_LIMITS, ...opts.limits };
  const names: ToolName[] = toolsFor(opts.agentTools, work.step);
  // The time limit aborts the model request and whatever tool runs (a command, a GPU wait, a search); so does a
  // halt for redelivery.
  const controller = new AbortController();
  const halt = new AbortController();
  const signal = AbortSignal.any([controller.signal, halt.signal]);
  const toolbox = createToolbox(work, tools, names, { signal });
  const saved = await tools.transcript?.load();
  const transcript: Transcript = saved ?? {
    messages: [{ role: "user", content: await firstMessage() }],
    toolResults: {},
    usage: { ...ZERO },
    startedAt: new Date().toISOString(),
  };
  const messages = transcript.messages as BetaMessageParam[];
  const last = messages.at(-1);
  const interrupted = new Set(
    toolUses(last)
      .map((t) => t.id)
      .filter((id) => !transcript.toolResults[id]),
  );
  if (saved) opts.log.info({ messages: messages.length, interrupted: interrupted.size }, "resuming the step's conversation");
  const save = saver(tools, transcript);
  await save();

  const remainingMs = Date.parse(transcript.startedAt) + limits.timeLimitMs - Date.now();
  const timer = setTimeout(() => controller.abort(), Math.max(0, remainingMs));
  const system = cachedSystem(`${opts.systemPrompt}\n\n${workingRules(names)}`);
  const turn: TurnState = {
    calls: toolUses(last).length,
    halt: (err) => {
      if (!halt.signal.aborted) opts.log.warn({ err }, "a tool met an infrastructure failure: the step stops for redelivery");
      halt.abort(err);
    },
    halted: () => halt.signal.aborted,
  };
  const stopIfHalted = () => {
    if (halt.signal.aborted) throw halt.signal.reason;
  };
  const runnable = runnableTools(toolbox, transcript, interrupted, save, turn);
  const usage = () => ({ ...transcript.usage, toolCalls: transcript.usage.toolCalls + toolbox.state.toolCalls });
  const noted = notedBudgets(transcript.messages);
  const notesDue = () => {
    const due = budgetNotes({ ...limits, usage: transcript.usage, startedAt: transcript.startedAt, now: Date.now() }, noted);
    for (const n of due) noted.add(n.kind);
    return due.map((n) => n.text);
  };
  try {
    for (let nudge = 0; ; nudge++) {
      const remaining = limits.maxIterations - transcript.usage.requests;
      if (remaining <= 0)
        throw new StepLoopError(
          "iterations",
          `the step used its ${limits.maxIterations} model requests without calling FinishStep`,
        );
      const runner = client.beta.messages.toolRunner(
        {
          model: opts.model,
          max_tokens: limits.maxTokens,
          system,
          tools: runnable,
          messages: transcript.messages as BetaMessageParam[],
          max_iterations: remaining,
          // Automatic caching: the breakpoint sits on the last block and moves forward as the conversation grows.
          cache_control: { type: "ephemeral" },
          ...thinkingParams(opts.thinking),
          stream: true,
        },
        { signal },
      );
      // A conversation saved between a reply and its tool results: answer those calls first.
      if (toolUses(transcript.messages.at(-1) as BetaMessageParam).length > 0) {
        const answer = await runner.generateToolResponse();
        stopIfHalted();
        if (answer) {
          runner.pushMessages(answer);
          transcript.messages.push(answer);
          await save();
        }
        if (toolbox.state.result) return { ...toolbox.state.result, usage: usage() };
      }
      let stop: BetaMessage["stop_reason"] = null;
      for await (const stream of runner) {
        const message = await stream.finalMessage();
        addMessageUsage(transcript.usage, message.usage);
        const reply = asParam(message);
        const sent = runner.params.messages;
        transcript.messages = [...sent, reply];
        await save();
        stop = message.stop_reason;
        turn.calls = toolUses(reply).length;
        if (spent(transcript.usage) > limits.tokenBudget) {
          throw new StepLoopError(
            "budget",
            `the step spent ${spent(transcript.usage)} tokens, over its budget of ${limits.tokenBudget}`,
          );
        }
        if (toolUses(reply).some((t) => t.name === "FinishStep")) {
          await runner.generateToolResponse();
          stopIfHalted();
          if (toolbox.state.result) return { ...toolbox.state.result, usage: usage() };
        }
        const window = stop === "model_context_window_exceeded";
        const cleared = clearOldToolResults(sent, window ? 0 : limits.clearToolResultsOverChars);
        if (cleared) opts.log.info({ cleared: cleared.count }, "cleared old tool results to keep the context small");
        const base = cleared ? cleared.messages : sent;
        const notes = turn.calls > 0 ? notesDue() : [];
        if (notes.length > 0) {
          await withNotes(runner, base, reply, notes);
          stopIfHalted();
        } else if (cleared) runner.setMessagesParams((p) => ({ ...p, messages: [...base, reply] }));
      }
      stopIfHalted();
      if (stop === "refusal") throw new StepLoopError("refusal", "Claude declined to carry out this step (stop reason: refusal)");
      transcript.messages = [...runner.params.messages];
      if (nudge >= NUDGES) throw new StepLoopError("unfinished", `Claude stopped ${nudge + 1} times without calling FinishStep`);
      const why =
        stop === "max_tokens"
          ? "Your last reply was cut off at the output limit. Work in smaller pieces (write large files in parts)."
          : stop === "model_context_window_exceeded"
            ? "Your last reply was cut off: the conversation filled the model's context window. Read less at a time (use offset and limit)."
            : "You stopped without calling FinishStep.";
      transcript.messages.push({
        role: "user",
        content: [`${why} Continue the step; when it is done and verified, call FinishStep.`, ...notesDue()].join("\n\n"),
      });
      await save();
    }
  } catch (err) {
    if (err instanceof StepLoopError) err.usage = usage();
    // A tool met the bus down or the process stopping: that error, for redelivery; the transcript is saved.
    if (halt.signal.aborted) throw halt.signal.reason;
    if (controller.signal.aborted) {
      const limit =
        limits.timeLimitMs >= 120_000 ? `${Math.round(limits.timeLimitMs / 60_000)} min` : `${limits.timeLimitMs / 1000} s`;
      const timeUp = new StepLoopError("time", `the step ran past its time limit of ${limit}`, { cause: err });
      timeUp.usage = usage();
      throw timeUp;
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

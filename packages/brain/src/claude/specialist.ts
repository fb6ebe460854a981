import type Anthropic from "@anthropic-ai/sdk";
import type { BetaContentBlockParam, BetaMessage, BetaMessageParam } from "@anthropic-ai/sdk/resources/beta/messages/messages";
import type { StepResult, StepWork, Usage } from "@mllead/contracts";
import { StepLoopError } from "../errors.js";
import { createToolbox, type Toolbox, type ToolName, toolsFor } from "../tools/toolbox.js";
import type { StepTools, Transcript } from "../types.js";
import { type BudgetKind, budgetNotes, spentTokens, withNotes } from "./budget.js";
import { cachedSystem } from "./client.js";
import { clearOldToolResults } from "./context.js";
import { openTranscript, saver, toolUses } from "./journal.js";
import { DEFAULT_STEP_LIMITS, type StepLoopLimits, type StepLoopOptions } from "./step-limits.js";
import { workingRules } from "./step-prompt.js";
import { runnableTools, type TurnState } from "./step-tools.js";
import { thinkingParams } from "./thinking.js";

/** Times the loop asks a model that stopped talking to call FinishStep before the step fails. */
const NUDGES = 2;

function addMessageUsage(total: Usage, u: BetaMessage["usage"]): void {
  total.inputTokens += u.input_tokens;
  total.outputTokens += u.output_tokens;
  total.cacheReadTokens += u.cache_read_input_tokens ?? 0;
  total.cacheWriteTokens += u.cache_creation_input_tokens ?? 0;
  total.requests += 1;
}

/** Messages persisted as plain JSON params. */
function asParam(message: BetaMessage): BetaMessageParam {
  return { role: "assistant", content: message.content as BetaContentBlockParam[] };
}

/** One step attempt's loop: what its rounds share. */
interface Loop {
  client: Anthropic;
  opts: StepLoopOptions;
  limits: StepLoopLimits;
  transcript: Transcript;
  toolbox: Toolbox;
  runnable: ReturnType<typeof runnableTools>;
  system: ReturnType<typeof cachedSystem>;
  save: (strict?: boolean) => Promise<void>;
  turn: TurnState;
  /** Aborted by the time limit. */
  timeUp: AbortController;
  /** Aborted, with the error, when a tool met an infrastructure failure: the step stops for redelivery. */
  halt: AbortController;
  /** Either of the two: stops the model request and whatever tool runs (a command, a GPU wait, a search). */
  signal: AbortSignal;
  /** The budgets the model was told about (kept in the transcript, so a resumed loop does not tell it twice). */
  noted: Set<BudgetKind>;
}

async function openLoop(
  client: Anthropic,
  opts: StepLoopOptions,
  work: StepWork,
  tools: StepTools,
  firstMessage: () => Promise<string>,
): Promise<Loop> {
  const limits = { ...DEFAULT_STEP_LIMITS, ...opts.limits };
  const names: ToolName[] = toolsFor(opts.agentTools, work.step);
  const timeUp = new AbortController();
  const halt = new AbortController();
  const signal = AbortSignal.any([timeUp.signal, halt.signal]);
  const toolbox = createToolbox(work, tools, names, { signal });
  const { saved, transcript, interrupted, lastCalls } = await openTranscript(tools, firstMessage);
  if (saved) {
    opts.log.info({ messages: transcript.messages.length, interrupted: interrupted.size }, "resuming the step's conversation");
  }
  const save = saver(tools, transcript);
  await save();
  const turn: TurnState = {
    calls: lastCalls,
    halt: (err) => {
      if (!halt.signal.aborted) opts.log.warn({ err }, "a tool met an infrastructure failure: the step stops for redelivery");
      halt.abort(err);
    },
    halted: () => halt.signal.aborted,
  };
  return {
    client,
    opts,
    limits,
    transcript,
    toolbox,
    runnable: runnableTools(toolbox, transcript, interrupted, save, turn),
    system: cachedSystem(`${opts.systemPrompt}\n\n${workingRules(names)}`),
    save,
    turn,
    timeUp,
    halt,
    signal,
    noted: new Set(transcript.budgetNotes ?? []),
  };
}

function stopIfHalted(loop: Loop): void {
  if (loop.halt.signal.aborted) throw loop.halt.signal.reason;
}

/** What the step has spent: the transcript's usage plus this attempt's tool calls. */
function usage(loop: Loop): Usage {
  return { ...loop.transcript.usage, toolCalls: loop.transcript.usage.toolCalls + loop.toolbox.state.toolCalls };
}

/** The budget notes due now, each given once (recorded in the transcript with the messages that carry them). */
function notesDue(loop: Loop): string[] {
  const { limits, transcript } = loop;
  const due = budgetNotes({ ...limits, usage: transcript.usage, startedAt: transcript.startedAt, now: Date.now() }, loop.noted);
  for (const n of due) loop.noted.add(n.kind);
  return due.map((n) => n.text);
}

/** Saves the conversation as it now is, with the budgets its messages have told the model of. */
function saveMessages(loop: Loop, messages: unknown[]): Promise<void> {
  loop.transcript.messages = messages;
  loop.transcript.budgetNotes = [...loop.noted];
  return loop.save();
}

function startRunner(loop: Loop) {
  const remaining = loop.limits.maxIterations - loop.transcript.usage.requests;
  if (remaining <= 0) {
    throw new StepLoopError(
      "iterations",
      `the step used its ${loop.limits.maxIterations} model requests without calling FinishStep`,
    );
  }
  return loop.client.beta.messages.toolRunner(
    {
      model: loop.opts.model,
      max_tokens: loop.limits.maxTokens,
      system: loop.system,
      tools: loop.runnable,
      messages: loop.transcript.messages as BetaMessageParam[],
      max_iterations: remaining,
      // Automatic caching: the breakpoint sits on the last block and moves forward as the conversation grows.
      cache_control: { type: "ephemeral" },
      ...thinkingParams(loop.opts.thinking),
      stream: true,
    },
    { signal: loop.signal },
  );
}

type Runner = ReturnType<typeof startRunner>;

/** A conversation saved between a reply and its tool results: answers those calls first. */
async function answerPending(loop: Loop, runner: Runner): Promise<StepResult | undefined> {
  if (toolUses(loop.transcript.messages.at(-1) as BetaMessageParam).length === 0) return undefined;
  const answer = await runner.generateToolResponse();
  stopIfHalted(loop);
  if (answer) {
    runner.pushMessages(answer);
    loop.transcript.messages.push(answer);
    await loop.save();
  }
  return loop.toolbox.state.result;
}

/**
 * One reply of the runner: counted and saved; the step's result when it called FinishStep; otherwise old tool
 * results cleared when the conversation grew large, and the budget notes due added after its tool results.
 */
async function onReply(loop: Loop, runner: Runner, message: BetaMessage): Promise<StepResult | undefined> {
  const { transcript, limits } = loop;
  addMessageUsage(transcript.usage, message.usage);
  const reply = asParam(message);
  const sent = runner.params.messages;
  await saveMessages(loop, [...sent, reply]);
  loop.turn.calls = toolUses(reply).length;
  if (spentTokens(transcript.usage) > limits.tokenBudget) {
    throw new StepLoopError(
      "budget",
      `the step spent ${spentTokens(transcript.usage)} tokens, over its budget of ${limits.tokenBudget}`,
    );
  }
  if (toolUses(reply).some((t) => t.name === "FinishStep")) {
    await runner.generateToolResponse();
    stopIfHalted(loop);
    if (loop.toolbox.state.result) return loop.toolbox.state.result;
  }
  const window = message.stop_reason === "model_context_window_exceeded";
  const cleared = clearOldToolResults(sent, window ? 0 : limits.clearToolResultsOverChars);
  if (cleared) loop.opts.log.info({ cleared: cleared.count }, "cleared old tool results to keep the context small");
  const base = cleared ? cleared.messages : sent;
  const notes = loop.turn.calls > 0 ? notesDue(loop) : [];
  if (notes.length > 0) {
    await withNotes(runner, base, reply, notes);
    stopIfHalted(loop);
  } else if (cleared) runner.setMessagesParams((p) => ({ ...p, messages: [...base, reply] }));
  return undefined;
}

/** One run of the SDK's tool runner until the model stops calling tools: the result, or why it stopped. */
async function runRound(loop: Loop): Promise<{ result: StepResult } | { stop: BetaMessage["stop_reason"] }> {
  const runner = startRunner(loop);
  const pending = await answerPending(loop, runner);
  if (pending) return { result: pending };
  let stop: BetaMessage["stop_reason"] = null;
  for await (const stream of runner) {
    const message = await stream.finalMessage();
    stop = message.stop_reason;
    const result = await onReply(loop, runner, message);
    if (result) return { result };
  }
  stopIfHalted(loop);
  if (stop === "refusal") throw new StepLoopError("refusal", "Claude declined to carry out this step (stop reason: refusal)");
  loop.transcript.messages = [...runner.params.messages];
  return { stop };
}

/** The model stopped without FinishStep: asks it to go on (with the notes due), or fails after NUDGES tries. */
async function nudge(loop: Loop, stop: BetaMessage["stop_reason"], nudges: number): Promise<void> {
  if (nudges >= NUDGES) throw new StepLoopError("unfinished", `Claude stopped ${nudges + 1} times without calling FinishStep`);
  const why =
    stop === "max_tokens"
      ? "Your last reply was cut off at the output limit. Work in smaller pieces (write large files in parts)."
      : stop === "model_context_window_exceeded"
        ? "Your last reply was cut off: the conversation filled the model's context window. Read less at a time (use offset and limit)."
        : "You stopped without calling FinishStep.";
  const content = [`${why} Continue the step; when it is done and verified, call FinishStep.`, ...notesDue(loop)].join("\n\n");
  await saveMessages(loop, [...loop.transcript.messages, { role: "user", content }]);
}

/** The error the loop ends with: the halt's (for redelivery), a time-limit StepLoopError, or `err` with the usage. */
function loopFailure(loop: Loop, err: unknown): unknown {
  if (err instanceof StepLoopError) err.usage = usage(loop);
  // A tool met the bus down or the process stopping: that error, for redelivery; the transcript is saved.
  if (loop.halt.signal.aborted) return loop.halt.signal.reason;
  if (!loop.timeUp.signal.aborted) return err;
  const ms = loop.limits.timeLimitMs;
  const limit = ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${ms / 1000} s`;
  const timeUp = new StepLoopError("time", `the step ran past its time limit of ${limit}`, { cause: err });
  timeUp.usage = usage(loop);
  return timeUp;
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
  const loop = await openLoop(client, opts, work, tools, firstMessage);
  const remainingMs = Date.parse(loop.transcript.startedAt) + loop.limits.timeLimitMs - Date.now();
  const timer = setTimeout(() => loop.timeUp.abort(), Math.max(0, remainingMs));
  try {
    for (let nudges = 0; ; nudges++) {
      const round = await runRound(loop);
      if ("result" in round) return { ...round.result, usage: usage(loop) };
      await nudge(loop, round.stop, nudges);
    }
  } catch (err) {
    throw loopFailure(loop, err);
  } finally {
    clearTimeout(timer);
  }
}

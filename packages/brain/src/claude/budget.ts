import type Anthropic from "@anthropic-ai/sdk";
import type { BetaContentBlockParam, BetaMessageParam } from "@anthropic-ai/sdk/resources/beta/messages/messages";
import type { Usage } from "@mllead/contracts";

/** The three budgets of a step's loop. */
export type BudgetKind = "requests" | "tokens" | "time";

/** Share of a budget spent after which the model is told what is left (once per budget). */
const NOTE_AT = 0.8;

/** What a budget note needs: the limits and what the step has spent. */
interface BudgetState {
  maxIterations: number;
  tokenBudget: number;
  timeLimitMs: number;
  usage: Usage;
  startedAt: string;
  now: number;
}

/** Tokens of every kind the loop counts against its budget. */
export const spentTokens = (u: Usage) => u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens;

function duration(ms: number): string {
  const min = Math.max(0, Math.round(ms / 60_000));
  if (min >= 60) return `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ""}`;
  if (min >= 1) return `${min} min`;
  return `${Math.max(0, Math.round(ms / 1000))} s`;
}

const count = (n: number) =>
  n >= 1_000_000 ? `${(n / 1_000_000).toFixed(1)}M` : n >= 1000 ? `${Math.round(n / 1000)}k` : `${n}`;

/**
 * The notes due now: one per budget (requests, tokens, wall-clock time) past NOTE_AT and not noted before, each
 * saying what is spent and what is left, so the model wraps up and calls FinishStep instead of running out.
 */
export function budgetNotes(state: BudgetState, noted: ReadonlySet<BudgetKind>): { kind: BudgetKind; text: string }[] {
  const close = "Wrap up: finish what the acceptance criteria need, check it, and call FinishStep before it runs out.";
  const notes: { kind: BudgetKind; text: string }[] = [];
  const requests = state.usage.requests;
  if (!noted.has("requests") && requests >= NOTE_AT * state.maxIterations) {
    notes.push({
      kind: "requests",
      text: `Budget note (requests): this step has made ${requests} of its ${state.maxIterations} model requests; ${state.maxIterations - requests} are left. ${close}`,
    });
  }
  const tokens = spentTokens(state.usage);
  if (!noted.has("tokens") && tokens >= NOTE_AT * state.tokenBudget) {
    notes.push({
      kind: "tokens",
      text: `Budget note (tokens): this step has spent ${count(tokens)} of its ${count(state.tokenBudget)} tokens; about ${count(Math.max(0, state.tokenBudget - tokens))} are left (each request re-reads the conversation). ${close}`,
    });
  }
  const elapsed = state.now - Date.parse(state.startedAt);
  if (!noted.has("time") && elapsed >= NOTE_AT * state.timeLimitMs) {
    notes.push({
      kind: "time",
      text: `Budget note (time): this step has run ${duration(elapsed)} of its ${duration(state.timeLimitMs)}; ${duration(state.timeLimitMs - elapsed)} are left, GPU waits included. ${close}`,
    });
  }
  return notes;
}

/**
 * Makes the next request's user turn the reply's tool results followed by the budget notes, the way the tool
 * runner allows it: the loop answers the calls itself and hands the runner the history with that turn.
 */
export async function withNotes(
  runner: ReturnType<Anthropic["beta"]["messages"]["toolRunner"]>,
  base: BetaMessageParam[],
  reply: BetaMessageParam,
  notes: string[],
): Promise<void> {
  const answer = await runner.generateToolResponse();
  const results = answer && Array.isArray(answer.content) ? answer.content : [];
  const content: BetaContentBlockParam[] = [...results, ...notes.map((text) => ({ type: "text" as const, text }))];
  runner.setMessagesParams((p) => ({ ...p, messages: [...base, reply, { role: "user", content }] }));
}

import { type EventOf, formatUsd, type TaskView, type Usage } from "@mllead/contracts";
import { esc } from "./blocks.js";

/** Said wherever a cost would be shown for a task the offline brain ran. */
export const OFFLINE_COST = "$0 — offline brain, no Claude calls";

const n = (x: number) => x.toLocaleString("en-US");

/** `41,200 in / 6,100 out tokens · cache 120,000 read / 9,000 written`. */
export function tokensLine(u: Usage): string {
  return `${n(u.inputTokens)} in / ${n(u.outputTokens)} out tokens · cache ${n(u.cacheReadTokens)} read / ${n(u.cacheWriteTokens)} written`;
}

/** `$1.23`, with what had no price named (the cost is then a lower bound). */
export function usd(u: Pick<Usage, "costUsd" | "unpricedModels">): string {
  const unpriced = u.unpricedModels?.length ? ` (no price known for ${u.unpricedModels.map(esc).join(", ")})` : "";
  return `${formatUsd(u)}${unpriced}`;
}

/** `of its $5.00 budget`, when the task has one. */
function budgetPart(budgetUsd: number | undefined): string {
  return budgetUsd === undefined ? "" : ` of its ${formatUsd({ costUsd: budgetUsd })} budget`;
}

/**
 * The task's cost for the status card: `Cost so far: $1.23 of its $5.00 budget · 41,200 in / …`;
 * `$0 — offline brain` offline; undefined before anything was spent or known.
 */
export function taskCostLine(view: Pick<TaskView, "usage" | "budgetUsd" | "brain" | "state">): string | undefined {
  if (view.brain === "offline") return `:moneybag: Cost: ${OFFLINE_COST}`;
  const done = view.state === "done" || view.state === "failed" || view.state === "cancelled";
  const label = done ? "Cost" : "Cost so far";
  if (!view.usage) return view.budgetUsd === undefined ? undefined : `:moneybag: ${label}: $0${budgetPart(view.budgetUsd)}`;
  return `:moneybag: ${label}: ${usd(view.usage)}${budgetPart(view.budgetUsd)} · ${tokensLine(view.usage)}`;
}

/** The cost on one `/mllead status` line: ` · $1.23`, ` · $0 (offline)`, or nothing. */
export function shortCost(view: Pick<TaskView, "usage" | "budgetUsd" | "brain">): string {
  if (view.brain === "offline") return " · $0 (offline)";
  if (!view.usage) return "";
  return ` · ${formatUsd(view.usage)}${view.budgetUsd === undefined ? "" : ` of ${formatUsd({ costUsd: view.budgetUsd })}`}`;
}

/** A step's cost on the status card: ` · $0.42`, or nothing when it made no Claude calls. */
export function stepCost(step: Pick<TaskView["steps"][number], "costUsd">): string {
  return step.costUsd === undefined ? "" : ` · ${formatUsd({ costUsd: step.costUsd })}`;
}

/**
 * The cost fact under the closing summary: what the task's Claude calls cost (its plans, every step attempt
 * and the summary) with their requests and tokens, or $0 offline.
 */
export function summaryCostLine(e: Pick<EventOf<"task.completed">, "usage" | "brain">): string | undefined {
  if (e.brain === "offline" && !e.usage) return `*Cost:* ${OFFLINE_COST}`;
  const u = e.usage;
  if (!u) return undefined;
  return `*Cost:* ${usd(u)} · Claude: ${n(u.requests)} requests · ${n(u.toolCalls)} tool calls · ${tokensLine(u)}`;
}

/** What a usage line appends for its cost: ` · $0.42` (` · ≥ $0.42` when a model had no price), or nothing when not priced. */
export function usageCost(u: Usage): string {
  return u.costUsd === undefined && !u.unpricedModels?.length ? "" : ` · ${formatUsd(u)}`;
}

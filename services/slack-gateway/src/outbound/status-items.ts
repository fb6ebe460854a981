import { type EventOf, isTerminal } from "@mllead/contracts";
import { renderProgressCard, renderStatusCard } from "../render/status.js";
import type { SlackStore, TaskLink } from "../store.js";
import { type NewItem, post, postKeys } from "./items.js";

/** What Slack shows under the thread while the tech lead writes a plan. */
const THINKING: Partial<Record<string, string>> = {
  requested: "is reading the request…",
  planning: "is writing a plan…",
  revising: "is revising the plan…",
};

/** `task.updated`: the status card, edited in place, and — while the tech lead writes a plan — the thread's status. */
export async function statusItems(
  event: EventOf<"task.updated">,
  link: TaskLink,
  store: Pick<SlackStore, "noteTask">,
): Promise<NewItem[]> {
  const view = event.view;
  const b = view.brain ?? link.brain;
  if (view.brain && view.brain !== link.brain) await store.noteTask(event.taskId, { brain: view.brain });
  // A task waiting on a retry or a budget answer is not thinking.
  const thinking = view.waiting ? undefined : THINKING[view.state];
  const card: NewItem = {
    key: postKeys.statusCard(event.taskId),
    priority: "progress",
    ordered: false,
    coalesce: true,
    // chat.update is Tier 3 for the whole workspace: a card shows its newest state at most once a second.
    minIntervalMs: 1000,
    final: isTerminal(view.state),
    payload: {
      kind: "upsert",
      msg: renderProgressCard(view, b),
      alternatives: view.steps.length ? [renderStatusCard(view, b)] : [],
      ...(thinking ? { defer: "thinking" as const } : view.state === "awaiting_approval" ? { defer: "later" as const } : {}),
    },
  };
  if (!thinking) return [card];
  return [post(postKeys.status(event.eventId), "person", { kind: "status", status: thinking }), card];
}

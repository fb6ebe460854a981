import type { App } from "@slack/bolt";
import type { SlackStore } from "../store.js";
import { APPROVING_REACTIONS } from "./approvals.js";
import type { Decide } from "./decide.js";

/** An approving reaction (✅, 👍, …) on a plan message approves that plan's revision. */
export function registerReactions(app: App, deps: { store: SlackStore }, decide: Decide): void {
  app.event("reaction_added", async ({ event, body, context }) => {
    if (!APPROVING_REACTIONS.has(event.reaction) || event.item.type !== "message") return;
    if (event.user === context.botUserId) return;
    const plan = await deps.store.planAt(event.item.channel, event.item.ts);
    if (!plan) return;
    await decide({
      taskId: plan.taskId,
      decisionId: body.event_id,
      decision: "approve",
      userId: event.user,
      via: "reaction",
      revision: plan.revision,
    });
  });
}

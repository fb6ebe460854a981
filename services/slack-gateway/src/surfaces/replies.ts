import type { App } from "@slack/bolt";
import { type Decide, replyDecision } from "./decide.js";
import { type InboundDeps, type MessageLike, mlleadContext, tooLongText } from "./inbound-deps.js";

/** A reply in a task's thread (without a mention) that is a decision: `approve`, `changes: …`, an answer. */
export function registerReplies(app: App, deps: InboundDeps, decide: Decide): void {
  const { store, poster } = deps;
  app.event("message", async ({ event, body, context }) => {
    const ev = event as unknown as MessageLike;
    // Edits, deletions, joins and every bot (ourselves included) are not people deciding.
    if (ev.subtype || ev.bot_id || !ev.user || !ev.thread_ts || ev.thread_ts === ev.ts) return;
    // A reply that mentions the bot also arrives as app_mention, which handles it.
    if (context.botUserId && ev.text?.includes(`<@${context.botUserId}`)) return;
    const taskId = await store.taskForThread(ev.channel, ev.thread_ts);
    if (!taskId) return;
    const parsed = await replyDecision(store, taskId, ev.text ?? "");
    if (!parsed) return;
    const { oversized } = mlleadContext(context);
    if (oversized && (parsed.decision === "request_changes" || parsed.decision === "answer")) {
      await poster.postOnce(
        `too-long:${body.event_id}`,
        { channel: ev.channel, threadTs: ev.thread_ts },
        { text: tooLongText(oversized.length, oversized.limit) },
      );
      return;
    }
    const link = await store.task(taskId);
    await decide({
      taskId,
      decisionId: body.event_id,
      userId: ev.user,
      via: "reply",
      ...parsed,
      ...(link?.revision !== undefined ? { revision: link.revision } : {}),
    });
  });
}

import { currentTrace, inSpan } from "@mllead/bus";
import { SUBJECTS, TaskCreate, taskIdFor } from "@mllead/contracts";
import type { App } from "@slack/bolt";
import { toSlackApiError } from "../errors.js";
import { HELP_TEXT } from "./commands.js";
import { type Decide, replyDecision } from "./decide.js";
import { type InboundDeps, type MessageLike, mlleadContext, tooLongText } from "./inbound-deps.js";

/** Removes mentions of the bot and surrounding space. */
export function stripBotMention(text: string, botUserId: string | undefined): string {
  const mention = botUserId ? new RegExp(`<@${botUserId}(\\|[^>]*)?>`, "g") : /^\s*<@[A-Z0-9]+(\|[^>]*)?>/;
  return text.replace(mention, " ").replace(/\s+/g, " ").trim();
}

/**
 * `@mllead …`: a mention starts a task in its thread (or, inside a task's thread, may be a decision on it);
 * an empty mention gets the help, an over-long one the limit.
 */
export function registerMentions(app: App, deps: InboundDeps, decide: Decide): void {
  const { bus, store, poster } = deps;
  const now = deps.now ?? (() => new Date());
  app.event("app_mention", async ({ event, body, client, context }) => {
    const ev = event as unknown as MessageLike;
    if (ev.bot_id || !ev.user) return;
    const log = deps.log.child({ eventId: body.event_id, channel: ev.channel });
    const threadTs = ev.thread_ts ?? ev.ts;
    const { oversized } = mlleadContext(context);
    if (oversized) {
      // The text was trimmed on the way in; half a task is worse than none, so say why nothing starts.
      log.info({ length: oversized.length, limit: oversized.limit }, "refused a mention that is too long");
      await poster.postOnce(
        `too-long:${body.event_id}`,
        { channel: ev.channel, threadTs },
        { text: tooLongText(oversized.length, oversized.limit) },
      );
      return;
    }
    await client.reactions.add({ channel: ev.channel, timestamp: ev.ts, name: "eyes" }).catch((err: unknown) => {
      // On a retried delivery the reaction is already there; anything else is worth a line but not worth failing.
      const e = toSlackApiError(err);
      if (e.slackError !== "already_reacted") log.warn({ slackError: e.slackError }, "could not add the 👀 reaction");
    });
    const text = stripBotMention(ev.text ?? "", context.botUserId);

    if (ev.thread_ts) {
      const existing = await store.taskForThread(ev.channel, ev.thread_ts);
      const parsed = existing ? await replyDecision(store, existing, text) : null;
      if (existing && parsed) {
        const link = await store.task(existing);
        await decide({
          taskId: existing,
          decisionId: body.event_id,
          userId: ev.user,
          via: "reply",
          ...parsed,
          ...(link?.revision !== undefined ? { revision: link.revision } : {}),
        });
        return;
      }
    }
    if (!text) {
      await poster.postOnce(`help:${body.event_id}`, { channel: ev.channel, threadTs }, { text: HELP_TEXT });
      return;
    }
    const teamId = body.team_id ?? context.teamId;
    const taskId = taskIdFor(ev.channel, ev.ts, teamId ?? "");
    const user = ev.user;
    // The task's trace starts here: one trace from this mention to the summary, its root this span (a repeated
    // delivery of the mention joins the trace the first one started).
    const attributes = { "mllead.task.id": taskId, "slack.channel": ev.channel, "slack.event_id": body.event_id };
    // Looked up only while tracing (the inbox delivery is then in a trace): no extra read for every mention otherwise.
    const started = currentTrace() ? (await store.task(taskId))?.trace : undefined;
    await inSpan("mention", started ? { parent: started, attributes } : { root: true, attributes }, async () => {
      const trace = currentTrace();
      // Link first, so the tech lead's first event already finds the thread.
      await store.linkTask({ taskId, channel: ev.channel, threadTs, ...(teamId ? { teamId } : {}), ...(trace ? { trace } : {}) });
      await bus.publish(
        SUBJECTS.taskCreate,
        TaskCreate,
        {
          v: 1,
          taskId,
          text,
          requester: { userId: user },
          slack: { channel: ev.channel, threadTs, messageTs: ev.ts, ...(teamId ? { teamId } : {}) },
          requestedAt: now().toISOString(),
        },
        // Slack's event_id: its retries of this mention create one task.
        body.event_id,
      );
    });
    log.info({ taskId }, "mention became a task");
  });
}

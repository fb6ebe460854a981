import type { Bus } from "@mllead/bus";
import { type Decision, SUBJECTS, TaskCreate, TaskDecide, taskIdFor } from "@mllead/contracts";
import type { App, BlockAction, ViewSubmitAction } from "@slack/bolt";
import type { Logger } from "pino";
import { registerAnswerActions } from "./answer-actions.js";
import { APPROVING_REACTIONS, parseReplyDecision, plainAnswer, type ReplyDecision } from "./approvals.js";
import { answerSlashCommand, HELP_TEXT } from "./commands.js";
import type { Poster } from "./poster.js";
import { registerQuestionActions } from "./question-actions.js";
import type { MlleadContext } from "./receiver.js";
import { CHANGES_MODAL, changesFeedback, parseChangesModalMeta, renderChangesModal } from "./render/changes-modal.js";
import { PLAN_ACTIONS, parsePlanButtonValue } from "./render/plan.js";
import { toSlackApiError } from "./slack-api.js";
import type { SlackStore } from "./store.js";
import { registerSurfaces } from "./surfaces.js";

export interface InboundDeps {
  bus: Bus;
  store: SlackStore;
  poster: Poster;
  log: Logger;
  now?: () => Date;
  /** MLLEAD_AGENTS_DIR, for `/mllead agents` and the Home tab. */
  agentsDir?: string;
}

/** The fields of a message-like event the gateway reads (Bolt's union of message subtypes is wider). */
interface MessageLike {
  type: string;
  user?: string;
  bot_id?: string;
  subtype?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  channel: string;
}

/** What the receiver attached to Bolt's context (see FastifyReceiver); empty in Socket Mode. */
function mlleadContext(context: Record<string, unknown>): MlleadContext {
  const m = context.mllead;
  return typeof m === "object" && m !== null ? (m as MlleadContext) : {};
}

/** The answer to a text longer than mllead takes: the person learns the limit instead of getting half a task. */
export function tooLongText(length: number, limit: number): string {
  return (
    `That message is ${length.toLocaleString("en-US")} characters long; @mllead takes up to ${limit.toLocaleString("en-US")}. ` +
    "Nothing was started. Please mention me again with a shorter request — put long details in a file or a follow-up reply."
  );
}

/** Removes mentions of the bot and surrounding space. */
export function stripBotMention(text: string, botUserId: string | undefined): string {
  const mention = botUserId ? new RegExp(`<@${botUserId}(\\|[^>]*)?>`, "g") : /^\s*<@[A-Z0-9]+(\|[^>]*)?>/;
  return text.replace(mention, " ").replace(/\s+/g, " ").trim();
}

/** Registers every Slack input: mentions, thread replies, reactions, plan buttons, the request-changes box and `/mllead`. */
export function registerInbound(app: App, deps: InboundDeps): void {
  const { bus, store, poster } = deps;
  const now = deps.now ?? (() => new Date());

  const decide = async (d: {
    taskId: string;
    decisionId: string;
    decision: Decision;
    userId: string;
    via: TaskDecide["via"];
    feedback?: string;
    revision?: number;
  }) => {
    const cmd: TaskDecide = {
      v: 1,
      taskId: d.taskId,
      decisionId: d.decisionId,
      decision: d.decision,
      userId: d.userId,
      via: d.via,
      decidedAt: now().toISOString(),
      ...(d.feedback ? { feedback: d.feedback } : {}),
      ...(d.revision !== undefined ? { revision: d.revision } : {}),
    };
    // The decision id is the msgID: a retried Slack delivery counts once.
    await bus.publish(SUBJECTS.taskDecide, TaskDecide, cmd, d.decisionId);
    deps.log.info({ taskId: d.taskId, decision: d.decision, via: d.via }, "decision forwarded to the tech lead");
  };

  /**
   * A thread reply as a decision: the words of one (`approve`, `changes: …`, `answer: …`), or — while the
   * task's plan has open questions — the whole reply as their answer.
   */
  const replyDecision = async (taskId: string, text: string): Promise<ReplyDecision | null> => {
    const parsed = parseReplyDecision(text);
    if (parsed) return parsed;
    const link = await store.task(taskId);
    return link?.openQuestions ? plainAnswer(text) : null;
  };

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
      const parsed = existing ? await replyDecision(existing, text) : null;
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
    // Link first, so the tech lead's first event already finds the thread.
    await store.linkTask({ taskId, channel: ev.channel, threadTs, ...(teamId ? { teamId } : {}) });
    await bus.publish(
      SUBJECTS.taskCreate,
      TaskCreate,
      {
        v: 1,
        taskId,
        text,
        requester: { userId: ev.user },
        slack: { channel: ev.channel, threadTs, messageTs: ev.ts, ...(teamId ? { teamId } : {}) },
        requestedAt: now().toISOString(),
      },
      // Slack's event_id: its retries of this mention create one task.
      body.event_id,
    );
    log.info({ taskId }, "mention became a task");
  });

  app.event("message", async ({ event, body, context }) => {
    const ev = event as unknown as MessageLike;
    // Edits, deletions, joins and every bot (ourselves included) are not people deciding.
    if (ev.subtype || ev.bot_id || !ev.user || !ev.thread_ts || ev.thread_ts === ev.ts) return;
    // A reply that mentions the bot also arrives as app_mention, which handles it.
    if (context.botUserId && ev.text?.includes(`<@${context.botUserId}`)) return;
    const taskId = await store.taskForThread(ev.channel, ev.thread_ts);
    if (!taskId) return;
    const parsed = await replyDecision(taskId, ev.text ?? "");
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

  app.event("reaction_added", async ({ event, body, context }) => {
    if (!APPROVING_REACTIONS.has(event.reaction) || event.item.type !== "message") return;
    if (event.user === context.botUserId) return;
    const plan = await store.planAt(event.item.channel, event.item.ts);
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

  app.action<BlockAction>(/^mllead_(approve|request_changes|cancel)$/, async ({ ack, body, action, client }) => {
    const value = action.type === "button" ? parsePlanButtonValue(action.value) : null;
    const channel = body.channel?.id ?? body.container?.channel_id;
    if (!value || !channel) {
      await ack();
      return;
    }
    const messageTs = (body.container?.message_ts as string | undefined) ?? body.message?.ts ?? "";
    const threadTs = (body.message?.thread_ts as string | undefined) ?? messageTs;
    if (action.action_id === PLAN_ACTIONS.requestChanges) {
      await ack();
      try {
        await client.views.open({
          trigger_id: body.trigger_id,
          view: renderChangesModal({ taskId: value.t, revision: value.r, channel, threadTs }),
        });
        return;
      } catch (err) {
        // A trigger lives 3 s and opens one view; when it is gone, the thread reply still works.
        const e = toSlackApiError(err);
        deps.log.warn(
          { slackError: e.slackError, taskId: value.t },
          "could not open the request-changes box; hinting at a reply",
        );
      }
      await client.chat.postEphemeral({
        channel,
        user: body.user.id,
        thread_ts: threadTs,
        text: "What should change? Reply in this thread starting with `changes:` — for example `changes: use AUC instead of accuracy` — and the tech lead will revise the plan.",
      });
      return;
    }
    try {
      // Stored on NATS before Slack hears the click was received: an acknowledged click is never lost.
      await decide({
        taskId: value.t,
        revision: value.r,
        // One id per click: a repeated delivery of this click counts once, a second click is a new decision.
        decisionId: `act-${body.user.id}-${action.action_ts}`,
        decision: action.action_id === PLAN_ACTIONS.approve ? "approve" : "cancel",
        userId: body.user.id,
        via: "button",
      });
    } catch (err) {
      await ack();
      deps.log.error({ err, taskId: value.t }, "could not forward a button decision");
      await client.chat
        .postEphemeral({
          channel,
          user: body.user.id,
          thread_ts: threadTs,
          text: "mllead could not pass your decision on just now. Please press the button again.",
        })
        .catch((e: unknown) => deps.log.warn({ slackError: toSlackApiError(e).slackError }, "could not say so either"));
      return;
    }
    await ack();
  });

  app.view<ViewSubmitAction>(CHANGES_MODAL.callbackId, async ({ ack, body, view }) => {
    const fail = (message: string) => ack({ response_action: "errors", errors: { [CHANGES_MODAL.blockId]: message } });
    const feedback = changesFeedback(view.state.values);
    if (!feedback) return fail("Say what should change, for example “use AUC instead of accuracy”.");
    const meta = parseChangesModalMeta(view.private_metadata);
    if (!meta) return fail("This box no longer knows which plan it is for. Reply `changes: …` in the thread instead.");
    try {
      await decide({
        taskId: meta.taskId,
        revision: meta.revision,
        // One id per modal: a repeated submission of this view counts once.
        decisionId: `view:${view.id}`,
        decision: "request_changes",
        feedback,
        userId: body.user.id,
        via: "button",
      });
    } catch (err) {
      // Keep the box open with the text in it, so pressing Submit again is all it takes.
      deps.log.error({ err, taskId: meta.taskId }, "could not forward a change request");
      return fail("mllead could not pass this on just now. Please press the button again.");
    }
    await ack();
  });

  app.command("/mllead", async ({ command, ack, context }) => {
    const { oversized } = mlleadContext(context);
    if (oversized) {
      await ack({ response_type: "ephemeral", text: tooLongText(oversized.length, oversized.limit) });
      return;
    }
    const text = await answerSlashCommand(command.text, deps, {
      channel: command.channel_id,
      userId: command.user_id,
      ...(command.trigger_id ? { triggerId: command.trigger_id } : {}),
    });
    await ack({ response_type: "ephemeral", text });
  });

  // The Details button, the Home tab and the "Ask @mllead" shortcut (surfaces.ts).
  registerSurfaces(app, deps);
  // Retry (a plan or summary Claude could not write), Go on / Stop (at the task's budget).
  registerQuestionActions(app, deps);
  // The answer buttons of a plan's questions.
  registerAnswerActions(app, deps);
}

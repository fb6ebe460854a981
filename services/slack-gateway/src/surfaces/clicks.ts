import type { BlockAction, BlockElementAction, webApi } from "@slack/bolt";
import type { Logger } from "pino";
import { toSlackApiError } from "../errors.js";

/**
 * Tells the person who pressed a button, privately in its thread, that the click did not get through (`text`
 * says what to do). Slack failing to take that message too is logged; the click has been answered already.
 */
async function sayClickFailed(client: webApi.WebClient, body: BlockAction, text: string, log: Logger): Promise<void> {
  const channel = body.channel?.id ?? body.container?.channel_id;
  const messageTs = (body.container?.message_ts as string | undefined) ?? body.message?.ts ?? "";
  if (!channel) return;
  await client.chat
    .postEphemeral({
      channel,
      user: body.user.id,
      thread_ts: (body.message?.thread_ts as string | undefined) ?? messageTs,
      text,
    })
    .catch((e: unknown) => log.warn({ slackError: toSlackApiError(e).slackError }, "could not say so either"));
}

/**
 * Runs `forward` (the click's decision, stored on NATS) before Slack hears the click was received, so an
 * acknowledged click is never lost. When it fails, the click is acknowledged, the failure logged under
 * `failure.logMsg` and the person told privately (`failure.text`) to press again.
 */
export async function forwardClick(
  click: { ack: () => Promise<void>; client: webApi.WebClient; body: BlockAction },
  log: Logger,
  failure: { taskId: string; logMsg: string; text: string },
  forward: () => Promise<void>,
): Promise<void> {
  try {
    await forward();
  } catch (err) {
    await click.ack();
    log.error({ err, taskId: failure.taskId }, failure.logMsg);
    await sayClickFailed(click.client, click.body, failure.text, log);
    return;
  }
  await click.ack();
}

/**
 * The fields of a button's `task.decide` that come from the click itself: who clicked, when, and the decision id.
 * One id per click: a repeated delivery of this click counts once, a second click is a new decision.
 */
export function clickDecision(body: BlockAction, action: BlockElementAction, taskId: string, now: Date) {
  return {
    v: 1 as const,
    taskId,
    decisionId: `act-${body.user.id}-${action.action_ts}`,
    userId: body.user.id,
    via: "button" as const,
    decidedAt: now.toISOString(),
  };
}

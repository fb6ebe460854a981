import type { App, BlockAction } from "@slack/bolt";
import type { Logger } from "pino";
import { toSlackApiError } from "../errors.js";
import { renderChangesModal } from "../render/changes-modal.js";
import { PLAN_ACTIONS, parsePlanButtonValue } from "../render/plan.js";
import { forwardClick } from "./clicks.js";
import type { Decide } from "./decide.js";

/**
 * The plan's Approve / Request changes / Cancel buttons. Approve and Cancel become decisions; Request changes
 * opens the request-changes box (or, when the trigger is gone, hints at a `changes:` reply).
 */
export function registerPlanButtons(app: App, deps: { log: Logger }, decide: Decide): void {
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
    const failure = {
      taskId: value.t,
      logMsg: "could not forward a button decision",
      text: "mllead could not pass your decision on just now. Please press the button again.",
    };
    await forwardClick({ ack, client, body }, deps.log, failure, () =>
      decide({
        taskId: value.t,
        revision: value.r,
        // One id per click: a repeated delivery of this click counts once, a second click is a new decision.
        decisionId: `act-${body.user.id}-${action.action_ts}`,
        decision: action.action_id === PLAN_ACTIONS.approve ? "approve" : "cancel",
        userId: body.user.id,
        via: "button",
      }),
    );
  });
}

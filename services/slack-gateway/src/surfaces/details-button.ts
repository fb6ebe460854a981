import type { Bus } from "@mllead/bus";
import type { App, BlockAction } from "@slack/bolt";
import type { Logger } from "pino";
import { toSlackApiError } from "../errors.js";
import type { Delivery } from "../outbound/deliver.js";
import { OutboundStore } from "../outbound/outbound-store.js";
import { PLAN_ACTIONS, parsePlanButtonValue } from "../render/plan.js";
import { planGoneMessage, renderPlanDetails, renderPlanDetailsMessage } from "../render/plan-details.js";

/** The plan's Details button: a modal with every step's handoff (or, when the trigger is gone, a private message). */
export function registerDetailsButton(app: App, deps: { bus: Bus; log: Logger }): void {
  let plans: Promise<OutboundStore<Delivery>> | undefined;
  const planStore = () => {
    plans ??= OutboundStore.open<Delivery>(deps.bus, deps.log);
    return plans;
  };

  app.action<BlockAction>(PLAN_ACTIONS.details, async ({ ack, body, action, client }) => {
    await ack();
    if (action.type !== "button") return;
    const value = parsePlanButtonValue(action.value);
    const channel = body.channel?.id ?? body.container?.channel_id;
    if (!value || !channel) return;
    const doc = await (await planStore()).plan(value.t, value.r);
    const threadTs = (body.message?.thread_ts as string | undefined) ?? (body.container?.message_ts as string | undefined);
    const privately = async (msg: { text: string; blocks?: unknown[] }) => {
      await client.chat.postEphemeral({
        channel,
        user: body.user.id,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        text: msg.text,
        ...(msg.blocks ? { blocks: msg.blocks as never } : {}),
      });
    };
    if (!doc) return privately(planGoneMessage(value.r));
    try {
      await client.views.open({ trigger_id: body.trigger_id, view: renderPlanDetails(doc.plan, doc.revision) });
    } catch (err) {
      // A trigger lives 3 s and opens one view; when it is gone, the details come as a private message.
      deps.log.warn(
        { slackError: toSlackApiError(err).slackError, taskId: value.t },
        "could not open the details; sending them privately",
      );
      await privately(renderPlanDetailsMessage(doc.plan, doc.revision));
    }
  });
}

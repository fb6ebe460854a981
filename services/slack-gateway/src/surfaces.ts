import type { Bus } from "@mllead/bus";
import { StatusQuery, StatusReply, SUBJECTS, TaskCreate, taskIdFor } from "@mllead/contracts";
import type { App, BlockAction, MessageShortcut, ViewSubmitAction } from "@slack/bolt";
import type { Logger } from "pino";
import { SLASH_COMMANDS } from "./commands.js";
import type { Delivery } from "./deliver.js";
import { OutboundStore } from "./outbound-store.js";
import { ASK, askTaskText, parseAskMetadata, renderAskModal } from "./render/ask-modal.js";
import { renderHome } from "./render/home.js";
import { PLAN_ACTIONS, parsePlanButtonValue } from "./render/plan.js";
import { planGoneMessage, renderPlanDetails, renderPlanDetailsMessage } from "./render/plan-details.js";
import { toSlackApiError } from "./slack-api.js";
import type { SlackStore } from "./store.js";
import { readAgents, readRunners } from "./workspace-info.js";

/** What the Home tab, the Details button and the "Ask @mllead" shortcut use. */
export interface SurfaceDeps {
  bus: Bus;
  store: SlackStore;
  log: Logger;
  agentsDir?: string;
  now?: () => Date;
}

/** How long the Home tab waits for the tech lead's status (ms). */
const HOME_STATUS_TIMEOUT_MS = 2000;

/**
 * Registers the Slack surfaces besides the thread: the plan's Details button (a modal with every
 * step's handoff), the App Home tab (the person's tasks, runners and GPUs, the setup) and the
 * message shortcut "Ask @mllead" (a modal that turns any message into a task in its thread).
 */
export function registerSurfaces(app: App, deps: SurfaceDeps): void {
  const now = deps.now ?? (() => new Date());
  let plans: Promise<OutboundStore<Delivery>> | undefined;
  const planStore = () => {
    plans ??= OutboundStore.open<Delivery>(deps.bus);
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

  app.event("app_home_opened", async ({ event, client }) => {
    if (event.tab !== "home") return;
    const user = event.user;
    const status = await deps.bus
      .request(SUBJECTS.statusQuery, StatusQuery, StatusReply, { v: 1, userId: user, recent: 5 }, HOME_STATUS_TIMEOUT_MS)
      .catch((err: unknown) => {
        deps.log.warn({ err }, "status query for the Home tab failed");
        return null;
      });
    const [runners, agents] = await Promise.all([
      readRunners(deps.bus).catch(() => []),
      readAgents(deps.agentsDir).catch((err: unknown) => {
        deps.log.warn({ err }, "could not read the agent files for the Home tab");
        return [];
      }),
    ]);
    await client.views.publish({
      user_id: user,
      view: renderHome({ status, runners, agents, commands: SLASH_COMMANDS, now: now() }),
    });
  });

  app.shortcut<MessageShortcut>(ASK.shortcut, async ({ ack, shortcut, client }) => {
    await ack();
    const message = shortcut.message as { ts: string; thread_ts?: string; text?: string; user?: string };
    const meta = {
      channel: shortcut.channel.id,
      messageTs: message.ts,
      // A reply's task lives in its thread; a top-level message starts one.
      threadTs: message.thread_ts ?? message.ts,
      text: message.text ?? "",
      ...(message.user ? { author: message.user } : {}),
    };
    await client.views.open({ trigger_id: shortcut.trigger_id, view: renderAskModal(meta) });
  });

  app.view<ViewSubmitAction>(ASK.callbackId, async ({ ack, body, view, client }) => {
    const fail = (message: string) => ack({ response_action: "errors", errors: { [ASK.blockId]: message } });
    const instruction = view.state.values[ASK.blockId]?.[ASK.actionId]?.value?.trim() ?? "";
    if (!instruction) return fail("Say what @mllead should do, for example “find out why the loss is flat”.");
    const meta = parseAskMetadata(view.private_metadata);
    if (!meta) return fail("This box no longer knows which message it is about. Please use the shortcut again.");
    const teamId = body.team?.id ?? body.user.team_id ?? "";
    // One task per message asked about, like one per mention: asking twice about it is the same task.
    const taskId = taskIdFor(meta.channel, `ask:${meta.messageTs}`, teamId);
    try {
      await deps.store.linkTask({ taskId, channel: meta.channel, threadTs: meta.threadTs, ...(teamId ? { teamId } : {}) });
      await deps.bus.publish(
        SUBJECTS.taskCreate,
        TaskCreate,
        {
          v: 1,
          taskId,
          text: askTaskText(instruction, meta),
          requester: { userId: body.user.id },
          slack: { channel: meta.channel, threadTs: meta.threadTs, messageTs: meta.messageTs, ...(teamId ? { teamId } : {}) },
          requestedAt: now().toISOString(),
        },
        `ask:${view.id}`,
      );
    } catch (err) {
      deps.log.error({ err, taskId }, "could not start a task from the shortcut");
      return fail("mllead could not pass this on just now. Please press Ask again.");
    }
    await ack();
    deps.log.info({ taskId }, "a message shortcut became a task");
    await client.reactions.add({ channel: meta.channel, timestamp: meta.messageTs, name: "eyes" }).catch((err: unknown) => {
      const e = toSlackApiError(err);
      if (e.slackError !== "already_reacted") deps.log.warn({ slackError: e.slackError }, "could not add the 👀 reaction");
    });
  });
}

import { SUBJECTS, TaskCreate, taskIdFor } from "@mllead/contracts";
import type { App, MessageShortcut, ViewSubmitAction } from "@slack/bolt";
import { toSlackApiError } from "../errors.js";
import { ASK, askTaskText, parseAskMetadata, renderAskModal } from "../render/ask-modal.js";
import type { InboundDeps } from "./inbound-deps.js";

/** The message shortcut "Ask @mllead": a modal that turns any message into a task in its thread. */
export function registerAskShortcut(app: App, deps: Pick<InboundDeps, "bus" | "store" | "log" | "now">): void {
  const now = deps.now ?? (() => new Date());
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

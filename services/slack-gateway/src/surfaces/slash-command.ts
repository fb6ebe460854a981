import type { App } from "@slack/bolt";
import { answerSlashCommand } from "./commands.js";
import { type InboundDeps, mlleadContext, tooLongText } from "./inbound-deps.js";

/** `/mllead <sub-command>`: answered privately (ephemeral) in the ack itself. */
export function registerSlashCommand(app: App, deps: InboundDeps): void {
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
}

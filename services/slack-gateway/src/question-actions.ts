import type { Bus } from "@mllead/bus";
import { type Decision, SUBJECTS, TaskDecide } from "@mllead/contracts";
import type { App, BlockAction } from "@slack/bolt";
import type { Logger } from "pino";
import { parseQuestionButtonValue, QUESTION_ACTIONS } from "./render/questions.js";
import { toSlackApiError } from "./slack-api.js";

const DECISION_OF: Record<string, Decision> = {
  [QUESTION_ACTIONS.retry]: "retry",
  [QUESTION_ACTIONS.goOn]: "continue",
  [QUESTION_ACTIONS.stop]: "cancel",
};

/**
 * The buttons of the tech lead's questions (render/questions.ts): Retry a failed plan or summary, Go on or
 * Stop at the budget. Each becomes a `task.decide` for the tech lead, which applies its rules (only the
 * requester or an approver, a stale budget question refused) and answers a refusal privately.
 */
export function registerQuestionActions(app: App, deps: { bus: Bus; log: Logger; now?: () => Date }): void {
  const now = deps.now ?? (() => new Date());
  app.action<BlockAction>(/^mllead_(retry|budget_go_on|budget_stop)$/, async ({ ack, body, action, client }) => {
    const value = action.type === "button" ? parseQuestionButtonValue(action.value) : null;
    const decision = DECISION_OF[action.action_id];
    if (!value || !decision) {
      await ack();
      return;
    }
    const cmd: TaskDecide = {
      v: 1,
      taskId: value.t,
      // One id per click: a repeated delivery of this click counts once, a second click is a new decision.
      decisionId: `act-${body.user.id}-${action.action_ts}`,
      decision,
      userId: body.user.id,
      via: "button",
      decidedAt: now().toISOString(),
      ...(value.a !== undefined ? { ask: value.a } : {}),
    };
    try {
      // Stored on NATS before Slack hears the click was received: an acknowledged click is never lost.
      await deps.bus.publish(SUBJECTS.taskDecide, TaskDecide, cmd, cmd.decisionId);
      deps.log.info({ taskId: cmd.taskId, decision, via: "button" }, "decision forwarded to the tech lead");
    } catch (err) {
      await ack();
      deps.log.error({ err, taskId: value.t }, "could not forward a button decision");
      const channel = body.channel?.id ?? body.container?.channel_id;
      const messageTs = (body.container?.message_ts as string | undefined) ?? body.message?.ts ?? "";
      if (!channel) return;
      await client.chat
        .postEphemeral({
          channel,
          user: body.user.id,
          thread_ts: (body.message?.thread_ts as string | undefined) ?? messageTs,
          text: "mllead could not pass your answer on just now. Please press the button again.",
        })
        .catch((e: unknown) => deps.log.warn({ slackError: toSlackApiError(e).slackError }, "could not say so either"));
      return;
    }
    await ack();
  });
}

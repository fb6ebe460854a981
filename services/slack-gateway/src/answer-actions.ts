import type { Bus } from "@mllead/bus";
import { SUBJECTS, TaskDecide } from "@mllead/contracts";
import type { App, BlockAction } from "@slack/bolt";
import type { Logger } from "pino";
import { ANSWER_ACTION, parseAnswerButtonValue } from "./render/plan-questions.js";
import { toSlackApiError } from "./slack-api.js";

/**
 * The answer buttons under a plan's questions (render/plan-questions.ts). A click becomes a `task.decide`
 * `answer` naming the question and the index of the choice, for the plan revision it was on; the tech lead
 * reads the choice from its own plan, applies its rules (only the requester or an approver, the current
 * revision, a question still open) and answers a refusal privately.
 */
export function registerAnswerActions(app: App, deps: { bus: Bus; log: Logger; now?: () => Date }): void {
  const now = deps.now ?? (() => new Date());
  app.action<BlockAction>(ANSWER_ACTION, async ({ ack, body, action, client }) => {
    const value = action.type === "button" ? parseAnswerButtonValue(action.value) : null;
    if (!value) {
      await ack();
      return;
    }
    const cmd: TaskDecide = {
      v: 1,
      taskId: value.t,
      // One id per click: a repeated delivery of this click counts once, a second click is a new decision.
      decisionId: `act-${body.user.id}-${action.action_ts}`,
      decision: "answer",
      userId: body.user.id,
      via: "button",
      revision: value.r,
      answers: [{ questionId: value.q, choice: value.c }],
      decidedAt: now().toISOString(),
    };
    const parsed = TaskDecide.safeParse(cmd);
    if (!parsed.success) {
      deps.log.warn({ taskId: value.t, issues: parsed.error.issues.slice(0, 3) }, "ignored a malformed answer button");
      await ack();
      return;
    }
    try {
      // Stored on NATS before Slack hears the click was received: an acknowledged click is never lost.
      await deps.bus.publish(SUBJECTS.taskDecide, TaskDecide, parsed.data, cmd.decisionId);
      deps.log.info({ taskId: cmd.taskId, question: value.q, via: "button" }, "answer forwarded to the tech lead");
    } catch (err) {
      await ack();
      deps.log.error({ err, taskId: value.t }, "could not forward an answer");
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

import type { Bus } from "@mllead/bus";
import { SUBJECTS, TaskDecide } from "@mllead/contracts";
import type { App, BlockAction } from "@slack/bolt";
import type { Logger } from "pino";
import { ANSWER_ACTION, parseAnswerButtonValue } from "../render/plan-questions.js";
import { clickDecision, forwardClick } from "./clicks.js";

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
      ...clickDecision(body, action, value.t, now()),
      decision: "answer",
      revision: value.r,
      answers: [{ questionId: value.q, choice: value.c }],
    };
    const parsed = TaskDecide.safeParse(cmd);
    if (!parsed.success) {
      deps.log.warn({ taskId: value.t, issues: parsed.error.issues.slice(0, 3) }, "ignored a malformed answer button");
      await ack();
      return;
    }
    const failure = {
      taskId: value.t,
      logMsg: "could not forward an answer",
      text: "mllead could not pass your answer on just now. Please press the button again.",
    };
    await forwardClick({ ack, client, body }, deps.log, failure, async () => {
      await deps.bus.publish(SUBJECTS.taskDecide, TaskDecide, parsed.data, cmd.decisionId);
      deps.log.info({ taskId: cmd.taskId, question: value.q, via: "button" }, "answer forwarded to the tech lead");
    });
  });
}

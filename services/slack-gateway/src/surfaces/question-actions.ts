import type { Bus } from "@mllead/bus";
import { type Decision, SUBJECTS, TaskDecide } from "@mllead/contracts";
import type { App, BlockAction } from "@slack/bolt";
import type { Logger } from "pino";
import { parseQuestionButtonValue, QUESTION_ACTIONS } from "../render/questions.js";
import { clickDecision, forwardClick } from "./clicks.js";

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
      ...clickDecision(body, action, value.t, now()),
      decision,
      ...(value.a !== undefined ? { ask: value.a } : {}),
    };
    const failure = {
      taskId: value.t,
      logMsg: "could not forward a button decision",
      text: "mllead could not pass your answer on just now. Please press the button again.",
    };
    await forwardClick({ ack, client, body }, deps.log, failure, async () => {
      await deps.bus.publish(SUBJECTS.taskDecide, TaskDecide, cmd, cmd.decisionId);
      deps.log.info({ taskId: cmd.taskId, decision, via: "button" }, "decision forwarded to the tech lead");
    });
  });
}

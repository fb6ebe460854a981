import type { App } from "@slack/bolt";
import { registerAnswerActions } from "./surfaces/answer-actions.js";
import { registerAskShortcut } from "./surfaces/ask-shortcut.js";
import { registerChangesModal } from "./surfaces/changes-modal.js";
import { decider } from "./surfaces/decide.js";
import { registerDetailsButton } from "./surfaces/details-button.js";
import { registerHomeTab } from "./surfaces/home-tab.js";
import type { InboundDeps } from "./surfaces/inbound-deps.js";
import { registerMentions } from "./surfaces/mentions.js";
import { registerPlanButtons } from "./surfaces/plan-buttons.js";
import { registerQuestionActions } from "./surfaces/question-actions.js";
import { registerReactions } from "./surfaces/reactions.js";
import { registerReplies } from "./surfaces/replies.js";
import { registerSlashCommand } from "./surfaces/slash-command.js";

/**
 * Registers every Slack input, one module per surface (surfaces/*): mentions, thread replies, reactions,
 * plan buttons, the request-changes box, `/mllead`, the Details button, the Home tab, the "Ask @mllead"
 * shortcut and the buttons of the tech lead's questions and of a plan's questions.
 */
export function registerInbound(app: App, deps: InboundDeps): void {
  const decide = decider(deps);
  registerMentions(app, deps, decide);
  registerReplies(app, deps, decide);
  registerReactions(app, deps, decide);
  registerPlanButtons(app, deps, decide);
  registerChangesModal(app, deps, decide);
  registerSlashCommand(app, deps);
  // The Details button, the Home tab and the "Ask @mllead" shortcut.
  registerDetailsButton(app, deps);
  registerHomeTab(app, deps);
  registerAskShortcut(app, deps);
  // Retry (a plan or summary Claude could not write), Go on / Stop (at the task's budget).
  registerQuestionActions(app, deps);
  // The answer buttons of a plan's questions.
  registerAnswerActions(app, deps);
}

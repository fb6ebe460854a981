import type { App, ViewSubmitAction } from "@slack/bolt";
import type { Logger } from "pino";
import { CHANGES_MODAL, changesFeedback, parseChangesModalMeta } from "../render/changes-modal.js";
import type { Decide } from "./decide.js";

/** The request-changes box: its submission becomes a `request_changes` decision with the feedback typed in it. */
export function registerChangesModal(app: App, deps: { log: Logger }, decide: Decide): void {
  app.view<ViewSubmitAction>(CHANGES_MODAL.callbackId, async ({ ack, body, view }) => {
    const fail = (message: string) => ack({ response_action: "errors", errors: { [CHANGES_MODAL.blockId]: message } });
    const feedback = changesFeedback(view.state.values);
    if (!feedback) return fail("Say what should change, for example “use AUC instead of accuracy”.");
    const meta = parseChangesModalMeta(view.private_metadata);
    if (!meta) return fail("This box no longer knows which plan it is for. Reply `changes: …` in the thread instead.");
    try {
      await decide({
        taskId: meta.taskId,
        revision: meta.revision,
        // One id per modal: a repeated submission of this view counts once.
        decisionId: `view:${view.id}`,
        decision: "request_changes",
        feedback,
        userId: body.user.id,
        via: "button",
      });
    } catch (err) {
      // Keep the box open with the text in it, so pressing Submit again is all it takes.
      deps.log.error({ err, taskId: meta.taskId }, "could not forward a change request");
      return fail("mllead could not pass this on just now. Please press the button again.");
    }
    await ack();
  });
}

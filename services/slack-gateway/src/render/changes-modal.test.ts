import { viewProblems } from "@mllead/slack-sandbox";
import { describe, expect, it } from "vitest";
import { CHANGES_MODAL, changesFeedback, parseChangesModalMeta, renderChangesModal } from "./changes-modal.js";

const META = { taskId: "t-1", revision: 3, channel: "C0GENERAL", threadTs: "1700000000.000100" };

describe("the Request-changes modal", () => {
  it("is a modal Slack accepts, with one required multiline box and the plan it revises", () => {
    const view = renderChangesModal(META);
    expect(viewProblems(view)).toEqual([]);
    for (const t of [view.title, view.submit, view.close]) expect(t?.text.length).toBeLessThanOrEqual(24);
    expect(view.callback_id).toBe(CHANGES_MODAL.callbackId);
    const input = view.blocks.find((b) => b.type === "input");
    expect(input).toMatchObject({
      block_id: "changes",
      label: { text: "What should change?" },
      element: { type: "plain_text_input", action_id: "feedback", multiline: true, max_length: 3000 },
    });
    expect(input && "optional" in input ? input.optional : false).toBeFalsy();
    expect(JSON.stringify(view.blocks)).toContain("revision 3");
    expect(parseChangesModalMeta(view.private_metadata)).toEqual(META);
  });

  it("reads the typed feedback and refuses metadata it did not write", () => {
    expect(changesFeedback({ changes: { feedback: { value: "  use AUC \n" } } })).toBe("use AUC");
    expect(changesFeedback({ changes: { feedback: { value: null } } })).toBe("");
    expect(changesFeedback({ changes: { feedback: { value: "x".repeat(5000) } } })).toHaveLength(3000);
    expect(changesFeedback(undefined)).toBe("");
    expect(parseChangesModalMeta("not json")).toBeNull();
    expect(parseChangesModalMeta(JSON.stringify({ taskId: "t-1" }))).toBeNull();
    expect(parseChangesModalMeta(undefined)).toBeNull();
  });
});

import { describe, expect, it } from "vitest";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf, visibleText } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

describe("@mllead decisions in the thread, end to end", () => {
  it("revises on a reply and from the Request changes box, refuses a stale plan and a stranger, approves by reaction, and cancels on reply", async () => {
    await using stack = await startStack({ MLLEAD_APPROVERS: "U0LEAD" });
    const { sandbox } = stack;
    const channel = sandbox.defaultChannel;
    const sent = await sandbox.mention("train a baseline on the churn table");
    const thread = () => botMessages(sandbox.thread(channel, sent.ts));
    const plans = () => thread().filter((m) => kindOf(m) === "task.planned");
    await waitFor(() => plans().length === 1, 30_000, "the first plan");
    const first = plans()[0] as ReturnType<typeof plans>[number];

    // Ask for changes with a reply: a second revision answers them.
    await sandbox.reply(sent.ts, "changes: train for 25 epochs");
    await waitFor(() => plans().length === 2, 30_000, "the revised plan");
    const second = plans()[1] as ReturnType<typeof plans>[number];
    expect(visibleText(second)).toMatch(/revision 2/i);
    expect(visibleText(second)).toMatch(/25 epochs/);

    // Ask again through the Request changes box: nothing typed is refused in the box, text revises the plan.
    await sandbox.click(second.ts, "mllead_request_changes");
    await waitFor(() => sandbox.openViews(sandbox.humanUserId).length === 1, 20_000, "the Request changes box");
    const [box] = sandbox.openViews(sandbox.humanUserId);
    if (!box) throw new Error("Request changes opened no box");
    expect((await sandbox.submitView(box.id, {})).json).toMatchObject({ response_action: "errors" });
    expect((await sandbox.submitView(box.id, { feedback: "also report AUC" })).status).toBe(200);
    await waitFor(() => plans().length === 3, 30_000, "the plan revised from the box");
    const third = plans()[2] as ReturnType<typeof plans>[number];
    expect(visibleText(third)).toMatch(/revision 3/i);
    expect(visibleText(third)).toMatch(/also report AUC/);

    // A click on the old plan is refused, privately, with the reason.
    await sandbox.click(first.ts, "mllead_approve");
    await waitFor(() => sandbox.ephemerals(channel).some((e) => /revision 1/.test(e.text)), 20_000, "the stale-plan notice");

    // Someone who neither asked nor approves cannot approve.
    await sandbox.react(third.ts, "white_check_mark", { user: "U0STRANGER" });
    await waitFor(() => sandbox.ephemerals(channel, "U0STRANGER").length === 1, 20_000, "the refusal");
    expect(thread().some((m) => kindOf(m) === "task.approved")).toBe(false);

    // An approver approves with a ✅ reaction; then the requester cancels with a reply.
    await sandbox.react(third.ts, "white_check_mark", { user: "U0LEAD" });
    await waitFor(() => thread().some((m) => kindOf(m) === "task.approved"), 20_000, "the approval");
    await sandbox.reply(sent.ts, "cancel");
    await waitFor(() => thread().some((m) => kindOf(m) === "task.cancelled"), 30_000, "the cancellation");
    // The card is posted once work starts, or at the end: it may not be in the thread yet.
    await waitFor(
      () => {
        const card = thread().find((m) => kindOf(m) === "card");
        return card !== undefined && /cancelled/i.test(visibleText(card));
      },
      20_000,
      "the card to say cancelled",
    );
    expect(thread().some((m) => kindOf(m) === "task.completed")).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf, postKey, visibleText } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

const TASK = "train a baseline on the churn table and compare it with last week's model";

describe("@mllead end to end: four service processes over a real nats-server, Slack played by the sandbox", () => {
  it("acknowledges, plans, waits for approval, runs the steps in order with a real job, and closes with the verdict and a summary", async () => {
    await using stack = await startStack();
    const { sandbox } = stack;
    const channel = sandbox.defaultChannel;
    const sent = await sandbox.mention(TASK);
    expect(sent.status).toBe(200);
    const thread = () => sandbox.thread(channel, sent.ts);
    const find = (kind: string) => botMessages(thread()).find((m) => kindOf(m) === kind);

    // 1. The acknowledgement: 👀 on the mention.
    await waitFor(() => sandbox.message(channel, sent.ts)?.reactions?.some((r) => r.name === "eyes") === true, 20_000, "👀");

    // 2. The plan, with the seed's handoff format and the approval buttons.
    await waitFor(() => find("task.planned") !== undefined, 30_000, "the plan");
    const plan = find("task.planned");
    if (!plan) throw new Error("no plan");
    const planText = visibleText(plan);
    for (const role of ["data-engineer", "ml-engineer", "analyst", "code-reviewer"]) expect(planText).toContain(role);
    expect(planText).toMatch(/Acceptance criteria/i);
    expect(planText).toMatch(/offline brain/);
    const actions = JSON.stringify(plan.blocks);
    for (const id of ["mllead_approve", "mllead_request_changes", "mllead_cancel"]) expect(actions).toContain(id);
    // Nothing runs before a person approves.
    expect(botMessages(thread()).some((m) => kindOf(m) === "step.started")).toBe(false);

    // 3. Approve with the button.
    const click = await sandbox.click(plan.ts, "mllead_approve");
    expect(click.status).toBe(200);

    // 4. The steps run; the thread closes with the summary.
    await waitFor(() => find("task.completed") !== undefined, 120_000, "the final summary");
    const messages = botMessages(thread());
    const order = messages.map((m) => `${kindOf(m)}:${/step\.[a-z]+:[^:]+:([^:]+):/.exec(postKey(m))?.[1] ?? ""}`);
    const at = (k: string) => order.indexOf(k);
    // Data before model, model before analysis, the code review last, then the summary.
    expect(at("step.started:data")).toBeGreaterThan(at("task.approved:"));
    expect(at("step.completed:data")).toBeLessThan(at("step.started:train"));
    expect(at("step.completed:train")).toBeLessThan(at("step.started:analyze"));
    expect(at("step.completed:analyze")).toBeLessThan(at("step.started:review"));
    expect(at("step.completed:review")).toBeLessThan(at("task.completed:"));
    for (const k of ["step.started:data", "step.started:train", "step.started:analyze", "step.started:review"])
      expect(at(k)).toBeGreaterThan(-1);

    // A real job ran: its message shows the outcome and the metrics the training script measured.
    const job = messages.find((m) => kindOf(m) === "job");
    expect(job && visibleText(job)).toMatch(/succeeded/);
    expect(job && visibleText(job)).toMatch(/auc/i);

    // The reviewer's verdict, the mandatory gate.
    const verdict = messages.find((m) => kindOf(m) === "step.completed" && postKey(m).includes(":review:"));
    expect(verdict && visibleText(verdict)).toMatch(/approve/i);

    // The summary, labelled offline, with the numbers against the baseline.
    const summary = find("task.completed");
    expect(summary && visibleText(summary)).toMatch(/offline/i);
    expect(summary && visibleText(summary)).toMatch(/baseline/i);

    // One status card, edited in place to its final state.
    const cards = messages.filter((m) => kindOf(m) === "card");
    expect(cards).toHaveLength(1);
    expect(visibleText(cards[0] as (typeof cards)[number])).toMatch(/done/i);

    // No message was posted twice.
    const keys = messages.map(postKey);
    expect(new Set(keys).size).toBe(keys.length);
    // Every bot message is labelled as coming from the offline brain, except the plain decision lines.
    const unlabelled = messages.filter(
      (m) => !/offline brain/.test(visibleText(m)) && !["task.approved", "card"].includes(kindOf(m)),
    );
    expect(unlabelled.map(kindOf)).toEqual([]);

    // `/mllead status` shows the finished task.
    const status = await sandbox.slash("status");
    expect(status.text).toMatch(/churn/);
  });
});

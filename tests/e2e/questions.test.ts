import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/git-repos.js";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf, postKey, visibleText } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

describe("@mllead asks before it plans on a guess, end to end (offline brain, the scout on the demo repository)", () => {
  it("an ambiguous request gets a question; Approve is refused until it is answered by a button or a reply; the revision runs", async () => {
    await using dir = await tempDir("mllead-questions-");
    const data = join(dir.path, "team-data");
    await mkdir(data);
    await writeFile(join(data, "customers.csv"), "customer_id,tenure_months,churned\n1,12,0\n2,3,1\n");
    await using stack = await startStack({ MLLEAD_DATA_DIRS: data });
    const { sandbox } = stack;
    const channel = sandbox.defaultChannel;
    const sent = await sandbox.mention("improve the model");
    const thread = () => botMessages(sandbox.thread(channel, sent.ts));
    const plans = () => thread().filter((m) => kindOf(m) === "task.planned");
    await waitFor(() => plans().length === 1, 60_000, "the first plan");
    const first = plans()[0] as ReturnType<typeof plans>[number];

    // The plan shows what it assumes and asks which data, offering the table the scout found in the data folder.
    const shown = visibleText(first);
    expect(shown).toContain("Assumptions:");
    expect(shown).toMatch(/synthetic/);
    expect(shown).toContain("Which table");
    expect(shown).toContain("customers.csv");
    expect(shown).toContain("mllead_answer_0");

    // Approve is refused, privately, while the question is open; nothing starts.
    await sandbox.click(first.ts, "mllead_approve");
    await waitFor(
      () => sandbox.ephemerals(channel).some((e) => /approval was not applied.*Which table/s.test(e.text)),
      20_000,
      "the refusal",
    );
    expect(thread().some((m) => kindOf(m) === "task.approved")).toBe(false);

    // The answer by button revises the plan; the revision asks nothing and works on the table chosen.
    await sandbox.click(first.ts, "mllead_answer_0");
    await waitFor(() => plans().length === 2, 60_000, "the revised plan");
    const second = plans()[1] as ReturnType<typeof plans>[number];
    expect(visibleText(second)).toMatch(/revision 2/i);
    expect(visibleText(second)).toMatch(/You answered: customers.csv/);
    expect(visibleText(second)).not.toContain("mllead_answer_");
    expect(
      thread().some((m) => kindOf(m) === "task.changes_requested" && /answered the plan's questions/.test(visibleText(m))),
    ).toBe(true);

    // Approved now: the work runs.
    await sandbox.click(second.ts, "mllead_approve");
    await waitFor(() => thread().some((m) => kindOf(m) === "task.approved"), 20_000, "the approval");
    await waitFor(
      () => thread().some((m) => kindOf(m) === "step.completed" && postKey(m).includes(":data:")),
      120_000,
      "the data step to complete",
    );
    await sandbox.reply(sent.ts, "cancel");
    await waitFor(() => thread().some((m) => kindOf(m) === "task.cancelled"), 60_000, "the cancellation");

    // A plain reply answers an open question too.
    const other = await sandbox.mention("improve the model please");
    const otherPlans = () => botMessages(sandbox.thread(channel, other.ts)).filter((m) => kindOf(m) === "task.planned");
    await waitFor(() => otherPlans().length === 1, 60_000, "the second task's plan");
    await sandbox.reply(other.ts, "the demo data is fine");
    await waitFor(() => otherPlans().length === 2, 60_000, "the plan revised from a plain reply");
    expect(visibleText(otherPlans()[1] as ReturnType<typeof otherPlans>[number])).toMatch(/You answered: the demo data is fine/);
  }, 300_000);
});

import { describe, expect, it } from "vitest";
import { type RecordedRequest, startFakeAnthropic } from "../helpers/fake-anthropic.js";
import { startStack } from "../helpers/stack.js";
import { botMessages, kindOf, visibleText } from "../helpers/thread.js";
import { waitFor } from "../helpers/wait.js";

const step = (id: string, role: string, dependsOn: string[], changesCode: boolean, title: string) => ({
  id,
  role,
  title,
  objective: `Claude's objective for ${id}`,
  context: "The churn table",
  requirements: ["Fix every seed"],
  acceptanceCriteria: ["Runs end to end"],
  nextHandoff: { to: "tech-lead", reason: "report back" },
  dependsOn,
  changesCode,
  usesGpu: role === "ml-engineer",
});

const PLAN = {
  summary: "Claude's plan: prepare churn, train a baseline, report, review.",
  scope: "multi-agent",
  risks: [{ risk: "Leakage between splits", mitigation: "Split before fitting anything" }],
  steps: [
    step("data", "data-engineer", [], true, "Prepare churn"),
    step("train", "ml-engineer", ["data"], true, "Train the baseline"),
    step("analyze", "analyst", ["train"], false, "Compare with the baseline"),
    step("review", "code-reviewer", ["data", "train", "analyze"], false, "Review all changes"),
  ],
};
const VERDICT = { decision: "approve", summary: "Claude read the code: seeds fixed, no leakage.", findings: [], checks: [] };

/** Answers like Claude would, by what the request asks for: a plan, a verdict, or the summary. */
function claude(req: RecordedRequest) {
  const schema = JSON.stringify(req.body.output_config?.format?.schema ?? {});
  if (schema.includes("acceptanceCriteria")) return { text: JSON.stringify(PLAN) };
  if (schema.includes("findings")) return { text: JSON.stringify(VERDICT) };
  return { text: "Claude's summary: the baseline beats the majority class; the reviewer approved." };
}

describe("@mllead end to end with the Claude brain (the real SDK in each service, a local Messages API)", () => {
  it("plans, reviews and summarises with Claude, while the steps run for real", async () => {
    await using api = await startFakeAnthropic(claude);
    await using stack = await startStack({ ANTHROPIC_API_KEY: api.apiKey, ANTHROPIC_BASE_URL: api.url });
    const { sandbox } = stack;
    const sent = await sandbox.mention("train a baseline on the churn table");
    const thread = () => botMessages(sandbox.thread(sandbox.defaultChannel, sent.ts));
    await waitFor(() => thread().some((m) => kindOf(m) === "task.planned"), 30_000, "Claude's plan");
    const plan = thread().find((m) => kindOf(m) === "task.planned");
    expect(plan && visibleText(plan)).toContain("Claude's plan");
    expect(plan && visibleText(plan)).not.toMatch(/offline brain/);

    await sandbox.click(plan?.ts ?? "", "mllead_approve");
    await waitFor(() => thread().some((m) => kindOf(m) === "task.completed"), 120_000, "the summary");
    const summary = thread().find((m) => kindOf(m) === "task.completed");
    expect(summary && visibleText(summary)).toContain("Claude's summary");
    const job = thread().find((m) => kindOf(m) === "job");
    expect(job && visibleText(job)).toMatch(/succeeded/);
    const review = thread().find((m) => kindOf(m) === "step.completed" && visibleText(m).includes("Claude read the code"));
    expect(review).toBeDefined();

    // The tech lead's prompt went out cached, and no key ever reached the thread.
    const system = api.requests[0]?.body.system as { cache_control?: unknown }[];
    expect(system[0]?.cache_control).toEqual({ type: "ephemeral" });
    expect(JSON.stringify(sandbox.thread(sandbox.defaultChannel, sent.ts))).not.toContain(api.apiKey);
    for (const name of ["tech-lead", "specialist-agent"] as const) {
      expect(stack.logs(name).join("\n")).not.toContain(api.apiKey);
    }
  });
});

import { ancestors, type Plan, type StepResult, type StepWork, topologicalOrder, unmetCriteria } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { createLocalTools } from "../testing/local-tools.js";
import { createOfflineBrain } from "./brain.js";

const brain = createOfflineBrain();

/** The work the tech lead would send for a step: its ancestors' results upstream, the reviewer's scope. */
function workFor(plan: Plan, text: string, stepId: string, results: Map<string, StepResult>): StepWork {
  const step = plan.steps.find((s) => s.id === stepId);
  if (!step) throw new Error(`no step ${stepId}`);
  const before = ancestors(plan, stepId);
  const upstream = plan.steps
    .filter((s) => before.has(s.id) && results.has(s.id))
    .map((s) => ({ stepId: s.id, role: s.role, title: s.title, result: results.get(s.id) as StepResult }));
  return {
    v: 1,
    taskId: "t-shape",
    stepId,
    attempt: 1,
    role: step.role,
    step,
    task: { text, requester: { userId: "U1" }, slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" } },
    upstream,
    findings: [],
    reviewScope: step.role === "code-reviewer" ? upstream : [],
    brain: "offline",
  };
}

/** Runs every step of the plan in dependency order on the offline executors, as the tech lead would. */
async function runAll(text: string): Promise<{ plan: Plan; results: Map<string, StepResult> }> {
  await using tools = await createLocalTools({ taskId: "t-shape" });
  const plan = await brain.plan({ taskId: "t-shape", text, requester: { userId: "U1" } });
  const results = new Map<string, StepResult>();
  for (const step of topologicalOrder(plan)) {
    const r = await brain.runStep(workFor(plan, text, step.id, results), tools);
    expect(r.status, `${step.id}: ${r.summary}`).toBe("succeeded");
    expect(unmetCriteria(step, r), step.id).toEqual([]);
    results.set(step.id, r);
  }
  return { plan, results };
}

// Real python subprocesses on a shared 2-core machine: generous limits, no timing assertions.
describe("the new plan shapes run on the offline executors", { timeout: 120_000 }, () => {
  it("a regression triage: investigate → root cause → fix → verify → review, every criterion met", async () => {
    const { plan, results } = await runAll("investigate why the fraud model's precision dropped last week");
    expect(plan.steps.map((s) => s.id)).toEqual(["investigate", "rootcause", "fix", "verify", "review"]);
    expect(results.get("rootcause")?.summary).toMatch(/explored the data/);
    expect(results.get("verify")?.summary).toMatch(/model vs majority-class baseline/);
    expect(results.get("review")?.verdict?.decision).toBe("approve");
  });

  it("a sweep, a data-quality overhaul and a production plan run to an approving review", async () => {
    for (const text of [
      "sweep the learning rate with optuna",
      "clean up the data quality of the events table",
      "ship the churn model to production",
    ]) {
      const { results } = await runAll(text);
      expect(results.get("review")?.verdict?.decision, text).toBe("approve");
    }
  });
});

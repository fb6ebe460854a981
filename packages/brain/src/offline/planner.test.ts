import { type Plan, type Step, validatePlan } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { CANNOT_CHECK, identifyCriteria } from "./criteria.js";
import { offlinePlan } from "./planner.js";
import { profileTask } from "./task-profile.js";

const roles = (p: Plan) => p.steps.map((s) => `${s.id}:${s.role}`);
const step = (p: Plan, id: string) => {
  const s = p.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
};
/** The criteria of a step that its offline specialist cannot check (a person's request). */
const unchecked = (s: Step) => identifyCriteria(s.role, s).filter((c) => c.key === undefined);

describe("offline planner", () => {
  it("plans a full experiment cycle: data → train → analyze → review, naming the table", () => {
    const plan = offlinePlan("<@U123> train a churn model on the `analytics.customers` table and report val AUC vs the baseline");
    expect(validatePlan(plan)).toEqual([]);
    expect(plan.brain).toBe("offline");
    expect(plan.scope).toBe("multi-agent");
    expect(roles(plan)).toEqual(["data:data-engineer", "train:ml-engineer", "analyze:analyst", "review:code-reviewer"]);
    expect(step(plan, "train").dependsOn).toEqual(["data"]);
    expect(step(plan, "analyze").dependsOn).toEqual(["train"]);
    expect(step(plan, "review").dependsOn).toEqual(["data", "train", "analyze"]);
    const data = step(plan, "data");
    expect(data.objective).toContain("`analytics.customers`");
    expect(data.acceptanceCriteria.map((c) => c.text).join("\n")).toContain("split before any fitted transform");
    expect(data.nextHandoff).toEqual({ to: "ml-engineer", reason: expect.stringContaining("analytics.customers") });
    expect(data.params).toEqual({ dataset: "analytics.customers", target: "churned", seed: 42 });
    const train = step(plan, "train");
    expect(train.usesGpu).toBe(true);
    expect(train.params).toEqual({
      dataset: "analytics.customers",
      target: "churned",
      model: "logreg",
      epochs: 10,
      learningRate: 0.1,
      batchSize: 256,
      seed: 42,
      metric: "val_auc",
      gpus: 1,
    });
    expect(step(plan, "analyze").params).toEqual({ dataset: "analytics.customers", metric: "val_auc" });
    expect(data.acceptanceCriteria.map((c) => c.id)).toEqual(["ac1", "ac2", "ac3", "ac4", "ac5"]);
    expect(train.acceptanceCriteria.map((c) => c.text)).toContain(
      "Val AUC reported with a majority-class baseline (baseline accuracy and AUC 0.5) beside it.",
    );
    expect(train.acceptanceCriteria.map((c) => c.text).join("\n")).toMatch(/Seeds fixed/);
    const risks = plan.risks.map((r) => r.risk).join("\n");
    for (const r of [/leakage/i, /drift/i, /instability/i, /baseline|regression/i, /memory/i]) expect(risks).toMatch(r);
    for (const r of plan.risks) expect(r.mitigation.length).toBeGreaterThan(10);
  });

  it("skips the ml-engineer for a pure EDA ask", () => {
    const plan = offlinePlan("Can you do some EDA on the events dataset and explore what drives conversions?");
    expect(validatePlan(plan)).toEqual([]);
    expect(roles(plan)).toEqual(["data:data-engineer", "analyze:analyst", "review:code-reviewer"]);
    expect(step(plan, "data").title).toContain("events");
    expect(step(plan, "analyze").dependsOn).toEqual(["data"]);
    expect(
      step(plan, "analyze")
        .acceptanceCriteria.map((c) => c.text)
        .join(" "),
    ).toMatch(/p-value/);
  });

  it("skips the data-engineer for a pure model change and calls it single-agent", () => {
    const plan = offlinePlan("Switch the model architecture to an MLP with a hidden layer and 30 epochs");
    expect(validatePlan(plan)).toEqual([]);
    expect(plan.scope).toBe("single-agent");
    expect(roles(plan)).toEqual(["train:ml-engineer", "review:code-reviewer"]);
    expect(step(plan, "train").title).toBe("Train a one-hidden-layer MLP on customers (30 epochs)");
    expect(step(plan, "train").params).toMatchObject({ model: "mlp", epochs: 30 });
    expect(step(plan, "train").requirements.join("\n")).toContain("Train for 30 epochs");
  });

  it("plans pure data work with a review and no model", () => {
    const plan = offlinePlan("Build a validation pipeline for the orders table: schema checks and null handling");
    expect(validatePlan(plan)).toEqual([]);
    expect(roles(plan)).toEqual(["data:data-engineer", "review:code-reviewer"]);
    expect(step(plan, "data").nextHandoff.to).toBe("code-reviewer");
  });

  it("asks the analyst to compare with a previous model when the task mentions one", () => {
    const plan = offlinePlan("Retrain the churn model and check for a regression against the production model");
    expect(profileTask("Retrain the churn model and check for a regression against the production model").mentionsPrevious).toBe(
      true,
    );
    expect(
      step(plan, "analyze")
        .acceptanceCriteria.map((c) => c.text)
        .join("\n"),
    ).toMatch(/previous model/);
    expect(step(plan, "analyze").params.extra).toEqual([{ name: "compare", value: "previous-model" }]);
    expect(plan.summary).toMatch(/correctness/);
  });

  it("is deterministic: the same input gives the same plan", () => {
    const text = "Train a fraud classifier on transactions.parquet with learning rate 0.05";
    expect(offlinePlan(text, ["use 20 epochs"])).toEqual(offlinePlan(text, ["use 20 epochs"]));
    expect(step(offlinePlan(text), "train").requirements.join("\n")).toContain("learning rate 0.05");
    expect(step(offlinePlan(text), "train").params.learningRate).toBe(0.05);
    expect(step(offlinePlan(text), "data").objective).toContain("`transactions.parquet`");
  });

  it("every plan over a range of texts is valid, with review last and present", () => {
    const texts = [
      "hi",
      "train a model",
      "why did accuracy drop last week? analyze it",
      "refresh the features table and retrain end to end",
      "tune hyperparameters of the ranking model",
      "clean up the ingest pipeline for `raw.clicks`",
    ];
    for (const t of texts) {
      const plan = offlinePlan(t);
      expect(validatePlan(plan), t).toEqual([]);
      expect(plan.steps.at(-1)?.role, t).toBe("code-reviewer");
      for (const s of plan.steps) {
        expect(s.id).toMatch(/^[a-z]+$/);
        // Every criterion the planner writes is one its offline specialist checks.
        expect(unchecked(s), `${t}: ${s.id}`).toEqual([]);
        if (s.role !== "code-reviewer") expect(s.params.dataset, `${t}: ${s.id}`).toBeTruthy();
      }
    }
  });

  it("reads batch size and seed from the task into the params", () => {
    const plan = offlinePlan("train a churn model with batch size 128 and seed 7");
    expect(step(plan, "train").params).toMatchObject({ batchSize: 128, seed: 7 });
    expect(step(plan, "data").params.seed).toBe(7);
    expect(step(plan, "train").requirements.join("\n")).toContain("mini-batches of 128, and the seed fixed (7)");
  });
});

describe("offline plan revisions", () => {
  const text = "Train a churn model on the customers table and write a report";

  it("'use 20 epochs' changes the params, and the requirement and criterion text follow", () => {
    const before = offlinePlan(text);
    const after = offlinePlan(text, ["use 20 epochs"]);
    expect(step(before, "train").params.epochs).toBe(10);
    expect(step(after, "train").params.epochs).toBe(20);
    expect(step(before, "train").requirements.join("\n")).toContain("Train for 10 epochs");
    expect(step(after, "train").requirements.join("\n")).toContain("Train for 20 epochs");
    expect(step(after, "train").acceptanceCriteria[0]?.text).toContain("20 epochs");
    // An ordinary change adds no criterion the offline specialist cannot check.
    expect(step(after, "train").acceptanceCriteria).toHaveLength(step(before, "train").acceptanceCriteria.length);
    for (const s of after.steps) expect(unchecked(s)).toEqual([]);
    expect(after.summary).toContain('"use 20 epochs": training now runs 20 epochs (was 10)');
  });

  it("'lr 0.05', 'batch size 64' and 'use an MLP' change the params and add no unchecked criteria", () => {
    const plan = offlinePlan(text, ["lr 0.05", "batch size 64", "use an MLP"]);
    expect(step(plan, "train").params).toMatchObject({ learningRate: 0.05, batchSize: 64, model: "mlp" });
    expect(step(plan, "train").acceptanceCriteria.map((c) => c.text)).toContain(
      "The job trains a one-hidden-layer MLP with learning rate 0.05, as its `model_card.json` records.",
    );
    for (const s of plan.steps) expect(unchecked(s)).toEqual([]);
    expect(plan.summary).toContain("learning rate is now 0.05 (was 0.1)");
  });

  it("caps epochs and says so", () => {
    const plan = offlinePlan(text, ["use 5000 epochs"]);
    expect(step(plan, "train").params.epochs).toBe(200);
    expect(plan.summary).toContain("5000 is over the offline cap");
  });

  it("'skip the analysis' drops the analyst and keeps the review last", () => {
    const plan = offlinePlan(text, ["skip the analysis"]);
    expect(validatePlan(plan)).toEqual([]);
    expect(roles(plan)).toEqual(["data:data-engineer", "train:ml-engineer", "review:code-reviewer"]);
    expect(step(plan, "train").nextHandoff.to).toBe("code-reviewer");
    expect(plan.summary).toContain("analyst step is dropped");
  });

  it("refuses to drop the mandatory review and says why", () => {
    const plan = offlinePlan(text, ["no need for code review"]);
    expect(plan.steps.at(-1)?.role).toBe("code-reviewer");
    expect(plan.summary).toContain("mandatory quality gate");
  });

  it("adds anything else as an explicit requirement on the relevant step and notes it", () => {
    const plan = offlinePlan(text, ["also report precision at the top 10% of scores", "use 20 epochs", "skip the analysis"]);
    expect(step(plan, "train").requirements.join("\n")).toContain("Train for 20 epochs");
    expect(plan.steps.some((s) => s.role === "analyst")).toBe(false);
    const withReport = offlinePlan(text, ["also report precision at the top 10% of scores"]);
    expect(step(withReport, "analyze").requirements).toContain(
      'Requested in plan review: "also report precision at the top 10% of scores"',
    );
    expect(withReport.summary).toContain("(1)");
    // A request the planner has no setting for is also a criterion, which the offline specialist cannot check.
    const asked = unchecked(step(withReport, "analyze"));
    expect(asked.map((c) => c.text)).toEqual([
      'Shown with evidence: what plan review asked for ("also report precision at the top 10% of scores").',
    ]);
    const generic = offlinePlan(text, ["please keep it under budget"]);
    for (const id of ["data", "train", "analyze"]) {
      expect(step(generic, id).requirements).toContain('Requested in plan review: "please keep it under budget"');
      expect(unchecked(step(generic, id))).toHaveLength(1);
    }
    expect(generic.summary).toContain("added as a requirement and an acceptance criterion");
    expect(generic.summary).toContain("the offline specialists cannot check it");
  });

  it("a re-plan after a step failed on a request keeps it as a requirement, no longer a criterion", () => {
    const request = "also report precision at the top 10% of scores";
    const failure =
      'The analyst step "Report results against the baseline" failed: ac4: the offline specialist cannot check this; with Claude it would. Re-plan so the task can still succeed.';
    const plan = offlinePlan(text, [request, failure]);
    expect(validatePlan(plan)).toEqual([]);
    expect(step(plan, "analyze").requirements).toContain(`Requested in plan review: "${request}"`);
    for (const s of plan.steps) expect(unchecked(s)).toEqual([]);
    expect(plan.summary).toContain("no longer acceptance criteria");
    expect(CANNOT_CHECK).toContain("with Claude it would");
  });

  it("a re-plan's failure text never changes settings (its '10 epochs' is not a request)", () => {
    const failure =
      'The ml-engineer step "Train a logistic regression on customers (10 epochs)" failed: training job job-1 failed without output. Re-plan so the task can still succeed.';
    const plan = offlinePlan(text, ["use 20 epochs", failure]);
    expect(step(plan, "train").params.epochs).toBe(20);
    expect(plan.steps.map((s) => s.id)).toEqual(offlinePlan(text).steps.map((s) => s.id));
    expect(plan.summary).toContain("the plan stays as it was");
  });

  it("answers every feedback item in order and stays valid", () => {
    const feedback = ["use an MLP", "learning rate 0.05", "skip the data step"];
    const plan = offlinePlan(text, feedback);
    expect(validatePlan(plan)).toEqual([]);
    expect(roles(plan)).toEqual(["train:ml-engineer", "analyze:analyst", "review:code-reviewer"]);
    expect(step(plan, "train").title).toContain("MLP");
    expect(step(plan, "train").params).toMatchObject({ model: "mlp", learningRate: 0.05 });
    expect(step(plan, "train").requirements.join("\n")).toContain("learning rate 0.05");
    expect(plan.summary).toMatch(/\(1\).*MLP.*\(2\).*0\.05.*\(3\).*data step is dropped/s);
  });
});

import { type Plan, type Step, validatePlan } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { CANNOT_CHECK, identifyCriteria } from "./criteria.js";
import { DEMO_PLAN_NOTE } from "./demo-data.js";
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
  it("says in the summary and an assumption that it runs the shipped demo pipeline on synthetic data", () => {
    for (const text of ["train a churn model on the `crm.customers` table", "explore the data in `events`"]) {
      const plan = offlinePlan(text, ["use 5 epochs".repeat(40), "lr 0.05".repeat(40)]);
      expect(plan.summary).toContain(DEMO_PLAN_NOTE);
      expect(plan.summary).toMatch(/shipped demo pipeline .* synthetic/);
      expect(plan.assumptions?.[0]).toMatch(/shipped demo pipeline on a deterministic synthetic .*every metric is synthetic/);
      expect(validatePlan(plan)).toEqual([]);
    }
  });

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

describe("offline plan shapes from the seed's task analysis", () => {
  const kinds = (p: Plan) => p.steps.map((s) => `${s.id}:${s.role}:${s.kind}`);
  const texts = (s: Step) => s.acceptanceCriteria.map((c) => c.text);
  const everyCriterionCheckable = (p: Plan) => {
    for (const s of p.steps) expect(unchecked(s), s.id).toEqual([]);
  };

  it("'investigate why the fraud model's precision dropped last week' is a triage: investigate → root cause → fix → verify, review last", () => {
    const plan = offlinePlan("investigate why the fraud model's precision dropped last week");
    expect(plan.shape).toBe("triage");
    expect(validatePlan(plan)).toEqual([]);
    expect(kinds(plan)).toEqual([
      "investigate:data-engineer:investigate",
      "rootcause:analyst:root-cause",
      "fix:ml-engineer:fix",
      "verify:analyst:verify",
      "review:code-reviewer:review",
    ]);
    expect(plan.steps.map((s) => s.dependsOn)).toEqual([
      [],
      ["investigate"],
      ["rootcause"],
      ["fix"],
      ["investigate", "rootcause", "fix", "verify"],
    ]);
    expect(step(plan, "rootcause").title).toBe("Find the root cause of the drop in precision");
    expect(step(plan, "verify").title).toBe("Verify that precision recovered");
    // The verification compares with the model from before the drop.
    expect(step(plan, "verify").params.extra).toEqual([{ name: "compare", value: "previous-model" }]);
    expect(texts(step(plan, "verify")).join("\n")).toMatch(/previous model/);
    expect(plan.summary).toMatch(/investigates.*root cause.*fixes.*verifies/);
    expect(plan.risks.map((r) => r.risk).join("\n")).toMatch(/symptom/);
    everyCriterionCheckable(plan);
    expect(profileTask("why did accuracy drop last week? analyze it").kind).toBe("triage");
    // A decline that is not a model's is no triage; neither is comparing against a model.
    expect(profileTask("explore why customers churn after the price drop").kind).not.toBe("triage");
    expect(profileTask("Retrain the churn model and check for a regression against the production model").kind).toBe("full");
  });

  it("a triage keeps its steps through plan review", () => {
    const text = "investigate why the fraud model's precision dropped last week";
    const plan = offlinePlan(text, ["skip the analysis", "skip the data step", "explain the drift in the amount feature"]);
    expect(plan.steps.map((s) => s.id)).toEqual(["investigate", "rootcause", "fix", "verify", "review"]);
    expect(plan.summary).toContain("a triage keeps all its steps");
    expect(step(plan, "rootcause").requirements).toContain('Requested in plan review: "explain the drift in the amount feature"');
    expect(validatePlan(plan)).toEqual([]);
  });

  it("'sweep the learning rate with optuna' is a sweep with trials, not a single run", () => {
    const plan = offlinePlan("sweep the learning rate with optuna");
    expect(plan.shape).toBe("sweep");
    expect(validatePlan(plan)).toEqual([]);
    expect(kinds(plan)).toEqual([
      "data:data-engineer:data",
      "sweep:ml-engineer:sweep",
      "analyze:analyst:report",
      "review:code-reviewer:review",
    ]);
    const sweep = step(plan, "sweep");
    expect(sweep.params.trials).toBe(20);
    expect(sweep.params.extra).toEqual(expect.arrayContaining([{ name: "sampler", value: "tpe" }]));
    expect(sweep.requirements.join("\n")).toMatch(/Optuna-style sweep \(TPE sampler, 20 trials/);
    // The single-setting check does not apply to a search over settings.
    expect(texts(sweep).join("\n")).not.toMatch(/as its `model_card.json` records/);
    expect(plan.summary).toMatch(/sweep rather than one well-configured run/);
    expect(plan.risks.map((r) => r.risk).join("\n")).toMatch(/best of 20 trials/);
    everyCriterionCheckable(plan);
    expect(step(offlinePlan("tune the hyperparameters of the churn model with 50 trials"), "sweep").params.trials).toBe(50);
    // A plain training request stays a single well-configured run.
    const single = offlinePlan("train a churn model");
    expect(single.shape).toBe("experiment-cycle");
    expect(step(single, "train").params.trials).toBeUndefined();
    expect(single.summary).toMatch(/one well-configured run rather than a sweep/);
  });

  it("'clean up the data quality of the events table' is a data-quality overhaul", () => {
    const plan = offlinePlan("clean up the data quality of the events table");
    expect(plan.shape).toBe("data-quality");
    expect(validatePlan(plan)).toEqual([]);
    expect(kinds(plan)).toEqual(["data:data-engineer:data", "analyze:analyst:eda", "review:code-reviewer:review"]);
    expect(step(plan, "data").title).toBe("Audit, clean and validate events");
    expect(step(plan, "data").requirements.join("\n")).toMatch(/before and after the fix/);
    expect(step(plan, "analyze").title).toBe("Profile the cleaned events");
    expect(plan.steps.some((s) => s.role === "ml-engineer")).toBe(false);
    everyCriterionCheckable(plan);
  });

  it("'just change the model architecture to an MLP' is one specialist and the review", () => {
    const plan = offlinePlan("just change the model architecture to an MLP");
    expect(plan.shape).toBe("single-specialist");
    expect(plan.scope).toBe("single-agent");
    expect(validatePlan(plan)).toEqual([]);
    expect(kinds(plan)).toEqual(["train:ml-engineer:train", "review:code-reviewer:review"]);
    expect(step(plan, "train").params.model).toBe("mlp");
    expect(offlinePlan("Build a validation pipeline for the orders table: schema checks and null handling").shape).toBe(
      "single-specialist",
    );
  });

  it("'ship the churn model to production' has stricter acceptance criteria than the same experiment", () => {
    const production = offlinePlan("ship the churn model to production");
    const experiment = offlinePlan("train the churn model");
    expect(production.track).toBe("production");
    expect(experiment.track).toBe("experiment");
    expect(validatePlan(production)).toEqual([]);
    expect(production.steps.map((s) => s.id)).toEqual(experiment.steps.map((s) => s.id));
    // Every criterion of the experiment holds in production, and production adds more.
    for (const s of experiment.steps) expect(texts(step(production, s.id))).toEqual(expect.arrayContaining(texts(s)));
    const count = (p: Plan) => p.steps.reduce((n, s) => n + s.acceptanceCriteria.length, 0);
    expect(count(production)).toBeGreaterThan(count(experiment));
    expect(texts(step(production, "analyze")).join("\n")).toMatch(/previous model/);
    expect(step(production, "analyze").requirements.join("\n")).toMatch(/Compare with the model in production/);
    expect(step(production, "train").requirements.join("\n")).toMatch(/correctness over speed/);
    expect(production.summary).toMatch(/leans to correctness/);
    expect(experiment.summary).toMatch(/leans to speed/);
    everyCriterionCheckable(production);
    // A pure model change headed for production still gets validated data and the comparison…
    const mlp = offlinePlan("switch the production model's architecture to an MLP");
    expect(mlp.steps.map((s) => s.id)).toEqual(["data", "train", "analyze", "review"]);
    // …and plan review cannot drop them.
    const kept = offlinePlan("ship the churn model to production", ["skip the data step", "skip the analysis"]);
    expect(kept.steps.map((s) => s.id)).toEqual(["data", "train", "analyze", "review"]);
    expect(kept.summary).toMatch(/data step stays: production.*analyst step stays: production/);
  });

  it("every shape names itself in the plan, and the review waits for every other step", () => {
    const cases: [string, Plan["shape"]][] = [
      ["investigate why the fraud model's precision dropped last week", "triage"],
      ["sweep the learning rate with optuna", "sweep"],
      ["clean up the data quality of the events table", "data-quality"],
      ["just change the model architecture to an MLP", "single-specialist"],
      ["train a churn model on the customers table and report it", "experiment-cycle"],
      ["do some EDA on the events dataset", "exploration"],
    ];
    for (const [text, shape] of cases) {
      const plan = offlinePlan(text);
      expect(plan.shape, text).toBe(shape);
      expect(validatePlan(plan), text).toEqual([]);
      const review = plan.steps.at(-1) as Step;
      expect(review.dependsOn, text).toEqual(plan.steps.slice(0, -1).map((s) => s.id));
    }
  });
});

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Finding, Plan, StepResult, StepWork, UpstreamResult } from "@mllead/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalTools, type LocalTools } from "../testing/local-tools.js";
import { createOfflineBrain } from "./brain.js";

const brain = createOfflineBrain();

function workFor(
  plan: Plan,
  text: string,
  stepId: string,
  results: Map<string, StepResult>,
  extra: { findings?: Finding[]; attempt?: number } = {},
): StepWork {
  const step = plan.steps.find((s) => s.id === stepId);
  if (!step) throw new Error(`no step ${stepId}`);
  const upstream: UpstreamResult[] = plan.steps
    .filter((s) => results.has(s.id) && s.id !== stepId)
    .map((s) => ({ stepId: s.id, role: s.role, title: s.title, result: results.get(s.id) as StepResult }));
  return {
    v: 1,
    taskId: "t-test",
    stepId,
    attempt: extra.attempt ?? 1,
    role: step.role,
    step,
    task: { text, requester: { userId: "U1" }, slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" } },
    upstream,
    findings: extra.findings ?? [],
    reviewScope: step.role === "code-reviewer" ? upstream.filter((u) => step.dependsOn.includes(u.stepId)) : [],
    brain: "offline",
  };
}

// Real python subprocesses on a shared 2-core machine: generous limits, no timing assertions.
describe("offline specialists, full cycle over real python", { timeout: 60_000 }, () => {
  const text = "Train a churn model on the `crm.customers` table for 8 epochs; compare with the previous model";
  let tools: LocalTools;
  let plan: Plan;
  const results = new Map<string, StepResult>();

  beforeAll(async () => {
    tools = await createLocalTools({ taskId: "t-test" });
    plan = await brain.plan({ taskId: "t-test", text, requester: { userId: "U1" } });
  });
  afterAll(async () => {
    await tools.dispose();
  });

  it("data-engineer writes and runs the pipeline, validates and splits the data", async () => {
    const r = await brain.runStep(workFor(plan, text, "data", results), tools);
    results.set("data", r);
    expect(r.status).toBe("succeeded");
    expect(r.filesChanged).toEqual(["pipeline/prepare_data.py", "pipeline/test_prepare_data.py"]);
    expect(r.metrics.rows).toBe(6000);
    expect((r.metrics.train_rows ?? 0) + (r.metrics.val_rows ?? 0) + (r.metrics.test_rows ?? 0)).toBe(6000);
    expect(r.metrics.positive_rate).toBeGreaterThan(0.05);
    expect(r.summary).toContain("`crm.customers`");
    expect(r.criteria.every((c) => c.met)).toBe(true);
    expect(r.artifacts.map((a) => a.name)).toEqual(expect.arrayContaining(["data/train.csv", "data/validation_report.md"]));
    const header = (await tools.readFile("data/train.csv")).split("\n")[0];
    expect(header).toBe(
      "tenure_months,monthly_charges,support_tickets,contract_months,days_since_login,num_products,age,churned",
    );
    expect(await tools.readFile("data/validation_report.md")).toContain("result: PASSED");
  });

  it("ml-engineer submits train.py as a GPU job on the data artifacts and reports metrics vs baseline", async () => {
    const r = await brain.runStep(workFor(plan, text, "train", results), tools);
    results.set("train", r);
    expect(r.status).toBe("succeeded");
    const job = tools.jobs[0];
    expect(job?.spec.command.slice(0, 6)).toEqual(["python3", "train.py", "--data", "data", "--epochs", "8"]);
    expect(job?.spec.inputs?.map((i) => i.path)).toEqual(["data/train.csv", "data/val.csv", "data/test.csv"]);
    expect(job?.progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(job?.progress[0]?.metrics.loss).toBeGreaterThan(0);
    expect(job?.result.logTail).toContain("CUDA_VISIBLE_DEVICES=");
    expect(r.jobId).toBe(job?.jobId);
    expect(r.metrics.val_auc).toBeGreaterThan(0.7);
    expect(r.metrics.baseline_auc).toBe(0.5);
    expect(r.metrics.baseline_accuracy).toBeGreaterThan(0.5);
    expect(r.criteria.every((c) => c.met)).toBe(true);
    expect(r.summary).toMatch(/Val AUC 0\.\d{3} vs the majority-class baseline's 0\.5/);
    expect(r.artifacts.map((a) => a.name)).toEqual(
      expect.arrayContaining(["training/train.py", "metrics.json", "history.json", "model.npz"]),
    );
  });

  it("analyst writes the report with the baseline, a loss curve, and says honestly there is no previous model", async () => {
    const r = await brain.runStep(workFor(plan, text, "analyze", results), tools);
    results.set("analyze", r);
    expect(r.status).toBe("succeeded");
    const report = await tools.readFile("reports/report.md");
    expect(report).toContain("majority-class baseline");
    expect(report).toContain("no previous model's metrics are available");
    const png = await readFile(join(tools.workspace, "reports/loss.png"));
    expect(png.subarray(0, 8).toString("latin1")).toBe("\x89PNG\r\n\x1a\n");
    expect(r.artifacts.map((a) => a.name)).toEqual(expect.arrayContaining(["reports/report.md", "reports/loss.png"]));
    expect(r.metrics.auc_lift).toBeGreaterThan(0.2);
    expect(r.criteria.every((c) => c.met)).toBe(true);
  });

  it("code-reviewer fetches every changed file in scope and approves the shipped code", async () => {
    const r = await brain.runStep(workFor(plan, text, "review", results), tools);
    results.set("review", r);
    expect(r.status).toBe("succeeded");
    expect(r.verdict?.decision).toBe("approve");
    expect(r.metrics.files_reviewed).toBe(6);
    expect(r.verdict?.checks).toHaveLength(7);
    expect(await tools.readFile("review/verdict.md")).toContain("approve");
  });

  it("summarize reports what was done, metrics vs baseline, the verdict, and that it is offline", async () => {
    const upstream = workFor(plan, text, "review", results).upstream.concat({
      stepId: "review",
      role: "code-reviewer",
      title: "Review",
      result: results.get("review") as StepResult,
    });
    const summary = await brain.summarize({ taskId: "t-test", text, plan, results: upstream });
    expect(summary).toContain("offline");
    expect(summary).toMatch(/val AUC 0\.\d{3} vs majority-class baseline 0\.500/);
    expect(summary).toContain("approved");
    expect(summary).toContain("reports/report.md");
    expect(summary).toContain("Next steps");
  });
});

describe("offline specialists, other shapes", { timeout: 60_000 }, () => {
  it("a pure model change trains without a data step, with the revised epochs", async () => {
    await using tools = await createLocalTools();
    const text = "Change the model architecture to an MLP";
    const first = await brain.plan({ taskId: "t2", text, requester: { userId: "U1" } });
    const plan = await brain.plan({
      taskId: "t2",
      text,
      requester: { userId: "U1" },
      previous: { plan: first, feedback: ["use 3 epochs"] },
    });
    expect(plan.steps.map((s) => s.id)).toEqual(["train", "review"]);
    const r = await brain.runStep(workFor(plan, text, "train", new Map()), tools);
    expect(r.status).toBe("succeeded");
    expect(tools.jobs[0]?.spec.command).toEqual(expect.arrayContaining(["--epochs", "3", "--model", "mlp"]));
    expect(tools.jobs[0]?.spec.files?.map((f) => f.path)).toEqual(["train.py", "prepare_data.py"]);
    expect(r.summary).toContain("No data step ran");
  });

  it("an EDA task: the analyst explores the data with statistical tests", async () => {
    await using tools = await createLocalTools();
    const text = "Do an EDA of the subscriptions table";
    const plan = await brain.plan({ taskId: "t3", text, requester: { userId: "U1" } });
    const results = new Map<string, StepResult>();
    results.set("data", await brain.runStep(workFor(plan, text, "data", results), tools));
    const r = await brain.runStep(workFor(plan, text, "analyze", results), tools);
    expect(r.status).toBe("succeeded");
    const report = await tools.readFile("reports/report.md");
    expect(report).toContain("## Exploratory analysis");
    expect(report).toMatch(/\| tenure_months \| .* \| .* \| [+-]\d+\.\d\d \| /);
    expect(r.criteria.every((c) => c.met)).toBe(true);
  });

  it("a fix round: the specialist addresses each finding and says how", async () => {
    await using tools = await createLocalTools();
    const text = "Prepare the accounts table";
    const plan = await brain.plan({ taskId: "t4", text, requester: { userId: "U1" } });
    const findings: Finding[] = [
      {
        severity: "blocker",
        category: "data_leakage",
        file: "pipeline/prepare_data.py",
        line: 12,
        message: "scaler fit before split",
        ownerStepId: "data",
      },
      {
        severity: "major",
        category: "reproducibility",
        file: "pipeline/prepare_data.py",
        message: "no seed",
        ownerStepId: "data",
      },
      { severity: "minor", category: "documentation", file: "training/train.py", message: "not mine", ownerStepId: "train" },
    ];
    const r = await brain.runStep(workFor(plan, text, "data", new Map(), { findings, attempt: 2 }), tools);
    expect(r.status).toBe("succeeded");
    expect(r.summary).toContain("Addressed blocker data_leakage finding on pipeline/prepare_data.py:12");
    expect(r.summary).toContain("Addressed major reproducibility finding on pipeline/prepare_data.py");
    expect(r.summary).not.toContain("not mine");
  });

  it("the reviewer requests changes when a step's code leaks, and names the owning step", async () => {
    await using tools = await createLocalTools();
    await tools.writeFile(
      "pipeline/prep.py",
      '"""Prep."""\nimport numpy as np\n\n\ndef prep(x: np.ndarray) -> np.ndarray:\n    """Scale."""\n    return (x - x.mean(axis=0)) / x.std(axis=0)\n',
    );
    const artifact = await tools.saveArtifact("pipeline/prep.py");
    const plan = await brain.plan({ taskId: "t5", text: "Prepare the accounts table", requester: { userId: "U1" } });
    const results = new Map<string, StepResult>([
      [
        "data",
        {
          status: "succeeded",
          summary: "done",
          artifacts: [artifact],
          metrics: {},
          filesChanged: ["pipeline/prep.py"],
          criteria: [],
        },
      ],
    ]);
    const r = await brain.runStep(workFor(plan, "Prepare the accounts table", "review", results), tools);
    expect(r.verdict?.decision).toBe("request_changes");
    expect(r.verdict?.findings).toContainEqual(
      expect.objectContaining({ category: "data_leakage", severity: "blocker", ownerStepId: "data" }),
    );
    expect(r.verdict?.findings).toContainEqual(expect.objectContaining({ category: "tests", severity: "major" }));
  });
});

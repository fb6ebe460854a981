import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Finding, type Plan, type StepResult, type StepWork, type UpstreamResult, unmetCriteria } from "@mllead/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalTools, type LocalTools } from "../testing/local-tools.js";
import type { StepTools } from "../types.js";
import { createOfflineBrain } from "./brain.js";
import { CANNOT_CHECK } from "./criteria.js";
import { SYNTHETIC_METRICS_WARNING } from "./demo-data.js";
import { DEFAULT_JOBS_DIR } from "./shared.js";

const brain = createOfflineBrain();

/** A PNG's size (from its header) and tEXt metadata. */
function pngInfo(png: Buffer): { size: [number, number]; text: Record<string, string> } {
  const text: Record<string, string> = {};
  let size: [number, number] = [0, 0];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const kind = png.subarray(at + 4, at + 8).toString("latin1");
    const body = png.subarray(at + 8, at + 8 + length);
    if (kind === "IHDR") size = [body.readUInt32BE(0), body.readUInt32BE(4)];
    if (kind === "tEXt") {
      const nul = body.indexOf(0);
      text[body.subarray(0, nul).toString("latin1")] = body.subarray(nul + 1).toString("latin1");
    }
    at += 12 + length;
  }
  return { size, text };
}

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

/** Every criterion of the step answered by id, met, with evidence: what the service requires to complete it. */
function expectAllMet(plan: Plan, stepId: string, r: StepResult): void {
  const step = plan.steps.find((s) => s.id === stepId);
  if (!step) throw new Error(`no step ${stepId}`);
  expect(r.criteria.map((c) => c.id)).toEqual(step.acceptanceCriteria.map((c) => c.id));
  expect(unmetCriteria(step, r)).toEqual([]);
  for (const c of r.criteria) expect(c.evidence.length, c.id).toBeGreaterThan(10);
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
    // The workspace had no pipeline (a team's repository): the shipped copy was written first.
    expect(r.filesChanged).toEqual(["jobs/prepare_data.py", "jobs/test_prepare_data.py"]);
    expect(r.metrics.rows).toBe(6000);
    expect((r.metrics.train_rows ?? 0) + (r.metrics.val_rows ?? 0) + (r.metrics.test_rows ?? 0)).toBe(6000);
    expect(r.metrics.positive_rate).toBeGreaterThan(0.05);
    expect(r.summary).toContain("`crm.customers`");
    expect(r.summary).toMatch(/^Offline data-engineer/);
    expectAllMet(plan, "data", r);
    expect(r.criteria.find((c) => c.id === "ac2")?.evidence).toMatch(/0 row\(s\) appear in more than one split/);
    expect(r.criteria.find((c) => c.id === "ac4")?.evidence).toContain("byte-identical");
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
    // The job runs with the step's params: the plan said 8 epochs, the default learning rate and seed.
    expect(plan.steps.find((s) => s.id === "train")?.params).toMatchObject({ epochs: 8, learningRate: 0.1, seed: 42 });
    expect(job?.spec.command).toEqual([
      "python3",
      "jobs/train.py",
      "--data",
      "data",
      "--epochs",
      "8",
      "--lr",
      "0.1",
      "--batch-size",
      "256",
      "--model",
      "logreg",
      "--seed",
      "42",
    ]);
    expect(job?.spec.files?.map((f) => f.path)).toEqual(["jobs/train.py"]);
    expect(job?.spec.inputs?.map((i) => i.path)).toEqual(["data/train.csv", "data/val.csv", "data/test.csv"]);
    expect(job?.progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(job?.progress[0]?.metrics.loss).toBeGreaterThan(0);
    expect(job?.result.logTail).toContain("CUDA_VISIBLE_DEVICES=");
    expect(r.jobId).toBe(job?.jobId);
    expect(r.metrics.val_auc).toBeGreaterThan(0.7);
    expect(r.metrics.baseline_auc).toBe(0.5);
    expect(r.metrics.baseline_accuracy).toBeGreaterThan(0.5);
    expectAllMet(plan, "train", r);
    expect(r.summary).toMatch(/^Offline ml-engineer/);
    expect(r.summary).toMatch(/Val AUC 0\.\d{3} vs the majority-class baseline's 0\.5/);
    expect(r.filesChanged).toEqual(["jobs/train.py", "jobs/test_train.py"]);
    const dir = `runs/${job?.jobId}`;
    expect(r.artifacts.map((a) => a.name)).toEqual(
      expect.arrayContaining([`${dir}/metrics.json`, `${dir}/history.json`, `${dir}/model.npz`, `${dir}/model_card.json`]),
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
    expectAllMet(plan, "analyze", r);
    expect(r.summary).toMatch(/^Offline analyst/);
    // A data scientist's plot: a fixed size, drawn by matplotlib where the python3 the tools run has it, else
    // by the fallback renderer — and the summary says which.
    const hasMatplotlib = (await tools.run(["python3", "-c", "import matplotlib"])).exitCode === 0;
    expect(pngInfo(png).size).toEqual([640, 400]);
    expect(pngInfo(png).text.Software).toMatch(hasMatplotlib ? /^matplotlib \d/ : /fallback renderer/);
    expect(r.summary).toMatch(
      hasMatplotlib ? /loss\.png \(drawn with matplotlib \d/ : /fallback renderer: the sandbox's python3 has no matplotlib/,
    );
    expect(report).toContain(hasMatplotlib ? "drawn with matplotlib" : "fallback renderer");
    // The numbers come from the synthetic demo table, and the result says so.
    expect(r.warnings).toContain(SYNTHETIC_METRICS_WARNING);
    for (const id of ["data", "train"]) expect(results.get(id)?.warnings).toContain(SYNTHETIC_METRICS_WARNING);
  });

  it("code-reviewer reads every changed file in scope and approves the shipped code, writing nothing", async () => {
    const before = await tools.listFiles();
    const r = await brain.runStep(workFor(plan, text, "review", results), tools);
    results.set("review", r);
    expect(r.status).toBe("succeeded");
    expect(r.verdict?.decision).toBe("approve");
    expect(r.verdict?.summary).toMatch(/^Offline static review/);
    expect(r.metrics.files_reviewed).toBe(6);
    expect(r.verdict?.checks).toHaveLength(7);
    expectAllMet(plan, "review", r);
    expect(r.filesChanged).toEqual([]);
    expect(await tools.listFiles()).toEqual(before);
    // A review has no synthetic metrics to warn about.
    expect(r.warnings ?? []).not.toContain(SYNTHETIC_METRICS_WARNING);
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
    expect(summary).toContain("shipped demo pipeline on a deterministic synthetic table, not on your data");
    expect(summary).toContain("*Key metrics* (synthetic demo data, not your data)");
    expect(summary).toContain("approved");
    expect(summary).toContain("reports/report.md");
    expect(summary).toContain("Next steps");
  });
});

describe("offline specialists, other shapes", { timeout: 60_000 }, () => {
  it("a pure model change trains without a data step, with the revised epochs and learning rate", async () => {
    await using tools = await createLocalTools();
    const text = "Change the model architecture to an MLP";
    const first = await brain.plan({ taskId: "t2", text, requester: { userId: "U1" } });
    const plan = await brain.plan({
      taskId: "t2",
      text,
      requester: { userId: "U1" },
      previous: { plan: first, feedback: ["use 3 epochs", "lr 0.05"] },
    });
    expect(plan.steps.map((s) => s.id)).toEqual(["train", "review"]);
    expect(plan.steps[0]?.params).toMatchObject({ model: "mlp", epochs: 3, learningRate: 0.05 });
    const r = await brain.runStep(workFor(plan, text, "train", new Map()), tools);
    expect(r.status).toBe("succeeded");
    const argv = tools.jobs[0]?.spec.command ?? [];
    const flag = (name: string) => argv[argv.indexOf(name) + 1];
    expect([flag("--epochs"), flag("--lr"), flag("--model")]).toEqual(["3", "0.05", "mlp"]);
    expect(tools.jobs[0]?.progress).toHaveLength(3);
    // No splits in the workspace: the generator ships with the job, which rebuilds them.
    expect(tools.jobs[0]?.spec.files?.map((f) => f.path)).toEqual(["jobs/train.py", "jobs/prepare_data.py"]);
    expect(tools.jobs[0]?.spec.inputs).toEqual([]);
    expect(r.summary).toContain("the job rebuilt the synthetic splits itself");
    expectAllMet(plan, "train", r);
    expect(r.criteria.find((c) => c.id === "ac2")?.evidence).toContain("lr=0.05");
  });

  it("runs the script the repository already has (the demo repository's jobs/) instead of writing it", async () => {
    await using tools = await createLocalTools();
    for (const f of ["prepare_data.py", "test_prepare_data.py"]) {
      await tools.writeFile(`jobs/${f}`, await readFile(join(DEFAULT_JOBS_DIR, f), "utf8"));
    }
    const text = "Prepare the accounts table";
    const plan = await brain.plan({ taskId: "t6", text, requester: { userId: "U1" } });
    const r = await brain.runStep(workFor(plan, text, "data", new Map()), tools);
    expect(r.status).toBe("succeeded");
    expect(r.filesChanged).toEqual([]);
    expectAllMet(plan, "data", r);
  });

  it("a criterion a person added that the offline specialist cannot check is met: false; the re-plan lets it run", async () => {
    await using tools = await createLocalTools();
    const text = "Prepare the accounts table";
    const request = "flag duplicate email columns";
    const first = await brain.plan({ taskId: "t7", text, requester: { userId: "U1" } });
    const plan = await brain.plan({
      taskId: "t7",
      text,
      requester: { userId: "U1" },
      previous: { plan: first, feedback: [request] },
    });
    const r = await brain.runStep(workFor(plan, text, "data", new Map()), tools);
    expect(r.status).toBe("failed");
    const step = plan.steps.find((s) => s.id === "data");
    const unmet = unmetCriteria(step as NonNullable<typeof step>, r);
    expect(unmet).toEqual([expect.objectContaining({ id: "ac6", met: false, evidence: CANNOT_CHECK })]);
    expect(r.criteria.slice(0, 5).every((c) => c.met)).toBe(true);

    // The tech lead re-plans with the failure; the request stays a requirement, no longer a criterion.
    const failure = `The data-engineer step "${step?.title}" failed: ac6: ${CANNOT_CHECK}. Re-plan so the task can still succeed.`;
    const replanned = await brain.plan({
      taskId: "t7",
      text,
      requester: { userId: "U1" },
      previous: { plan, feedback: [request, failure] },
    });
    const again = await brain.runStep(workFor(replanned, text, "data", new Map(), { attempt: 2 }), tools);
    expect(again.status).toBe("succeeded");
    expectAllMet(replanned, "data", again);
    expect(again.summary).toContain(`Requested in plan review: "${request}" — not carried out`);
  });

  it("an analyst without the job's files in its workspace uses the upstream metrics, and says the loss curve is not shown", async () => {
    await using tools = await createLocalTools();
    const text = "Train a churn model on the customers table and write a report";
    const plan = await brain.plan({ taskId: "t9", text, requester: { userId: "U1" } });
    const metrics = { val_auc: 0.81, val_accuracy: 0.79, baseline_accuracy: 0.74, baseline_auc: 0.5, seed: 42 };
    const results = new Map<string, StepResult>([
      [
        "train",
        { status: "succeeded", summary: "trained", artifacts: [], metrics, filesChanged: [], criteria: [], jobId: "job-7" },
      ],
    ]);
    const r = await brain.runStep(workFor(plan, text, "analyze", results), tools);
    expect(JSON.parse(await tools.readFile("runs/job-7/metrics.json"))).toEqual(metrics);
    expect(r.summary).toContain("the metrics come from the train step's result");
    const curve = r.criteria.find((c) => c.criterion.includes("loss curve"));
    expect(curve).toMatchObject({ met: false, evidence: "no loss history in the workspace, so no plot" });
    expect(r.criteria.find((c) => c.criterion.includes("baseline"))?.met).toBe(true);
    expect(r.status).toBe("failed");
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
        file: "jobs/prepare_data.py",
        line: 12,
        message: "scaler fit before split",
        ownerStepId: "data",
      },
      {
        severity: "major",
        category: "reproducibility",
        file: "jobs/prepare_data.py",
        message: "no seed",
        ownerStepId: "data",
      },
      { severity: "minor", category: "documentation", file: "training/train.py", message: "not mine", ownerStepId: "train" },
    ];
    const r = await brain.runStep(workFor(plan, text, "data", new Map(), { findings, attempt: 2 }), tools);
    expect(r.status).toBe("succeeded");
    expect(r.summary).toContain("Addressed blocker data_leakage finding on jobs/prepare_data.py:12");
    expect(r.summary).toContain("Addressed major reproducibility finding on jobs/prepare_data.py");
    expect(r.summary).not.toContain("not mine");
  });

  it("the reviewer requests changes when a step's code leaks, and names the owning step", async () => {
    await using tools = await createLocalTools();
    await tools.writeFile(
      "pipeline/prep.py",
      '"""Prep."""\nimport numpy as np\n\n\ndef prep(x: np.ndarray) -> np.ndarray:\n    """Scale."""\n    return (x - x.mean(axis=0)) / x.std(axis=0)\n',
    );
    const plan = await brain.plan({ taskId: "t5", text: "Prepare the accounts table", requester: { userId: "U1" } });
    const results = new Map<string, StepResult>([
      [
        "data",
        {
          status: "succeeded",
          summary: "done",
          artifacts: [],
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

  it("with a git worktree, the reviewer reviews the diff since the base commit and finds each file's step by its commit", async () => {
    await using tools = await createLocalTools();
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
        cwd: tools.workspace,
        encoding: "utf8",
      }).trim();
    git("init", "--quiet", "--initial-branch=main");
    await tools.writeFile("README.md", "# repo\n");
    git("add", "--all");
    git("commit", "--quiet", "-m", "base");
    const base = git("rev-parse", "HEAD");
    await tools.writeFile(
      "pipeline/prep.py",
      '"""Prep."""\nimport numpy as np\n\n\ndef prep(x: np.ndarray) -> np.ndarray:\n    """Scale."""\n    return (x - x.mean(axis=0)) / x.std(axis=0)\n',
    );
    await tools.writeFile("notes.md", "not code\n");
    git("add", "--all");
    git("commit", "--quiet", "-m", "data step");
    const sha = git("rev-parse", "HEAD");
    const repoTools: StepTools = {
      ...tools,
      repo: {
        branch: "main",
        baseCommit: base,
        async diff() {
          const files = git("diff", "--name-status", base)
            .split("\n")
            .map((l) => l.split("\t"))
            .map(([status = "", path = ""]) => ({ status, path }));
          return { diff: git("diff", base), files, truncated: false };
        },
      },
    };
    const text = "Prepare the accounts table";
    const plan = await brain.plan({ taskId: "t8", text, requester: { userId: "U1" } });
    // The step's result does not list the file: the owner comes from the commit that changed it.
    const results = new Map<string, StepResult>([
      [
        "data",
        {
          status: "succeeded",
          summary: "done",
          artifacts: [],
          metrics: {},
          filesChanged: [],
          criteria: [],
          git: { branch: "main", baseCommit: base, commits: [{ sha, message: "data step", stepId: "data" }] },
        },
      ],
    ]);
    const r = await brain.runStep(workFor(plan, text, "review", results), repoTools);
    expect(r.metrics.files_reviewed).toBe(1);
    expect(r.verdict?.decision).toBe("request_changes");
    expect(r.verdict?.findings).toContainEqual(
      expect.objectContaining({ category: "data_leakage", file: "pipeline/prep.py", ownerStepId: "data" }),
    );
    expect(r.verdict?.checks.find((c) => c.pitfall === "data_leakage")?.status).toBe("fail");
    expectAllMet(plan, "review", r);
  });
});

describe("offline executors read settings from params, never from the plan's prose", () => {
  it("no executor reads the step's text back with regular expressions", async () => {
    for (const f of ["data-engineer.ts", "ml-engineer.ts", "analyst.ts", "code-reviewer.ts", "shipped-code.ts", "workbench.ts"]) {
      const source = await readFile(join(import.meta.dirname, f), "utf8");
      expect(source, f).not.toMatch(/trainSettings|judgeCriteria|profileTask/);
      expect(source, f).not.toMatch(
        /step\.(title|objective|context|requirements)[^;]*\.(test|exec|match)\(|\/[^/\n]+\/i?\.(test|exec)\((work\.)?step\./,
      );
      expect(source, f).not.toMatch(/requirements\.(some|find|filter)\(/);
    }
  });
});

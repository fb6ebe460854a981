import type { Artifact, StepResult, StepWork } from "@mllead/contracts";
import type { StepTools } from "../types.js";
import { failed, findArtifact, fmt, judgeCriteria, type OfflineContext, outputTail } from "./shared.js";
import { followUpLines, runShippedTests, writeShippedCode } from "./shipped-code.js";
import { profileTask } from "./task-profile.js";

const CODE = { script: "analysis/analyze.py", tests: "analysis/test_analyze.py" } as const;
const INPUTS = ["metrics.json", "history.json", "validation_report.json", "train.csv"] as const;

/** The offline analyst: fetches upstream metrics and data, runs the shipped analysis, and saves the report. */
export async function runAnalyst(work: StepWork, tools: StepTools, ctx: OfflineContext): Promise<StepResult> {
  const sources = await writeShippedCode(tools, ctx, CODE);
  const filesChanged = [CODE.script, CODE.tests, "reports/report.md"];
  const artifacts: Artifact[] = [];
  for (const path of [CODE.script, CODE.tests]) artifacts.push(await tools.saveArtifact(path, { contentType: "text/x-python" }));

  const have = new Set<string>();
  for (const name of INPUTS) {
    const a = findArtifact(work.upstream, name);
    if (!a) continue;
    await tools.fetchArtifact(a, `inputs/${name}`);
    have.add(name);
  }
  if (!have.has("metrics.json") && !have.has("train.csv")) {
    return failed("Nothing to analyse: no upstream step produced metrics.json or a train split.", { artifacts, filesChanged });
  }
  const previousWanted =
    profileTask(work.task.text).mentionsPrevious || work.step.requirements.some((r) => /previous model/i.test(r));
  const argv = ["python3", CODE.script, "--out", "reports", "--title", `Analysis: ${work.step.title}`];
  if (have.has("metrics.json")) argv.push("--metrics", "inputs/metrics.json");
  if (have.has("history.json")) argv.push("--history", "inputs/history.json");
  if (have.has("train.csv")) argv.push("--data", "inputs/train.csv");
  if (have.has("validation_report.json")) argv.push("--validation", "inputs/validation_report.json");
  if (previousWanted) argv.push("--previous-model-wanted");

  await tools.progress(have.has("metrics.json") ? "Comparing the model with the baseline" : "Exploring the data");
  const run = await tools.run(argv, { timeoutSec: 120 });
  if (run.exitCode !== 0) {
    return failed(`The analysis failed (exit ${run.exitCode}):\n${outputTail(run)}`, { artifacts, filesChanged });
  }
  const { run: testRun, count: testCount } = await runShippedTests(tools, CODE);

  const report = await tools.readFile("reports/report.md");
  const numbers = JSON.parse(await tools.readFile("reports/analysis.json")) as Record<string, number>;
  const files = await tools.listFiles();
  const hasPlot = files.includes("reports/loss.png");
  artifacts.push(await tools.saveArtifact("reports/report.md", { contentType: "text/markdown" }));
  artifacts.push(await tools.saveArtifact("reports/analysis.json", { contentType: "application/json" }));
  if (hasPlot) {
    artifacts.push(await tools.saveArtifact("reports/loss.png", { contentType: "image/png" }));
    filesChanged.push("reports/loss.png");
  }

  const criteria = judgeCriteria(work.step.acceptanceCriteria, (c) => {
    if (/previous model/i.test(c)) {
      const said = /previous model/i.test(report);
      return {
        met: said,
        evidence: said ? "the report states no previous model's metrics are available offline" : "not mentioned",
      };
    }
    if (/baseline/i.test(c))
      return {
        met: /majority-class baseline/.test(report) && numbers.auc_lift !== undefined,
        evidence: `AUC lift ${fmt(numbers.auc_lift)}, accuracy lift ${fmt(numbers.accuracy_lift)}`,
      };
    if (/loss curve|loss\.png/i.test(c))
      return { met: hasPlot, evidence: hasPlot ? "reports/loss.png written" : "no loss history upstream" };
    if (/class balance/i.test(c))
      return { met: numbers.positive_rate !== undefined, evidence: `positive rate ${fmt(numbers.positive_rate)}` };
    if (/statistic|p-value/i.test(c))
      return { met: /Welch t/.test(report), evidence: "per-feature Welch t and p-value table in the report" };
    return undefined;
  });

  const lines: string[] = [];
  if (numbers.auc_lift !== undefined) {
    lines.push(
      `Model vs majority-class baseline: AUC lift ${fmt(numbers.auc_lift)}, accuracy lift ${fmt(numbers.accuracy_lift)}.`,
    );
  }
  if (previousWanted)
    lines.push("No previous model's metrics are available offline, so the comparison is against the baseline only.");
  if (numbers.positive_rate !== undefined) {
    lines.push(
      `Data: positive rate ${fmt(numbers.positive_rate)}; ${numbers.significant_features ?? 0} features differ between classes at p < 0.01.`,
    );
  }
  lines.push(
    `Report: reports/report.md${hasPlot ? " with the loss curve reports/loss.png" : ""}; unit tests: ${testCount} ${testRun.exitCode === 0 ? "passed" : "FAILED"}.`,
  );
  lines.push(...followUpLines(work, CODE, sources, "the offline report covers it only where it matches the shipped analysis."));
  return {
    status: testRun.exitCode === 0 ? "succeeded" : "failed",
    summary: lines.join("\n").slice(0, 4000),
    artifacts,
    metrics: numbers,
    filesChanged,
    criteria,
  };
}

import type { StepResult, StepWork, UpstreamResult } from "@mllead/contracts";
import type { StepTools } from "../types.js";
import { plotNote } from "./demo-data.js";
import { EXTRA, extraParam } from "./params.js";
import { fmt, type OfflineContext } from "./shared.js";
import { type CodePaths, type CodeSources, ensureShipped, followUpLines, runShippedTests } from "./shipped-code.js";
import {
  answerCriteria,
  bash,
  exists,
  failureLine,
  finish,
  finishFailed,
  finiteMetrics,
  openWorkbench,
  readJson,
  readText,
  sh,
  tail,
  type Workbench,
  write,
} from "./workbench.js";

const CODE: CodePaths = { script: "jobs/analyze.py", tests: "jobs/test_analyze.py" };
const OUT = "reports";

/** Where the analysis reads its inputs from: workspace paths, or none. */
interface Inputs {
  metrics?: string;
  history?: string;
  data?: string;
  validation?: string;
  /** Said in the summary: where the numbers came from. */
  notes: string[];
}

/**
 * The training run's metrics and history: the job's outputs copied back under
 * `runs/<jobId>/`, or, where they are not in this workspace, the upstream
 * result's metrics written there (then there is no loss history).
 */
async function trainingInputs(wb: Workbench, inputs: Inputs): Promise<void> {
  const trained = [...wb.work.upstream].reverse().find((u: UpstreamResult) => u.role === "ml-engineer");
  if (!trained) return;
  const dir = `runs/${trained.result.jobId ?? trained.stepId}`;
  if (await exists(wb, `${dir}/metrics.json`)) {
    inputs.metrics = `${dir}/metrics.json`;
    inputs.notes.push(`metrics from ${dir}/metrics.json`);
  } else if (Object.keys(trained.result.metrics).length > 0) {
    inputs.metrics = `${dir}/metrics.json`;
    await write(wb, inputs.metrics, `${JSON.stringify(trained.result.metrics, null, 2)}\n`);
    inputs.notes.push(`the job's files are not in this workspace, so the metrics come from the ${trained.stepId} step's result`);
  }
  if (await exists(wb, `${dir}/history.json`)) inputs.history = `${dir}/history.json`;
}

/** How the loss plot was drawn, for the summary: matplotlib, or the fallback and why. */
function plotRenderer(renderer: string | undefined): string {
  if (renderer === "fallback") return "drawn by the built-in fallback renderer: the sandbox's python3 has no matplotlib";
  return renderer ? `drawn with ${renderer}` : "renderer not recorded";
}

/** What the analysis wrote under `reports/`. */
interface ReportOutputs {
  report: string;
  numbers: Record<string, number>;
  renderer: string | undefined;
  hasPlot: boolean;
  produced: string[];
}

async function readReport(wb: Workbench): Promise<ReportOutputs> {
  const report = (await exists(wb, `${OUT}/report.md`)) ? await readText(wb, `${OUT}/report.md`) : "";
  const analysis = (await readJson<Record<string, unknown>>(wb, `${OUT}/analysis.json`)) ?? {};
  const renderer = typeof analysis.plot_renderer === "string" ? analysis.plot_renderer : undefined;
  const hasPlot = await exists(wb, `${OUT}/loss.png`);
  const produced = [`${OUT}/report.md`, `${OUT}/analysis.json`, ...(hasPlot ? [`${OUT}/loss.png`] : [])];
  return { report, numbers: finiteMetrics(analysis), renderer, hasPlot, produced };
}

/** What the offline analyst judges and reports its step on. */
interface AnalysisEvidence {
  inputs: Inputs;
  out: ReportOutputs;
  previousWanted: boolean;
  /** Unit tests that ran (and passed). */
  tests: number;
}

/** Each criterion the offline analyst recognises, judged on the report it wrote. */
function judgeAnalysis(wb: Workbench, e: AnalysisEvidence) {
  const { inputs } = e;
  const { report, numbers, hasPlot } = e.out;
  return answerCriteria(wb, "analyst", (key) => {
    switch (key) {
      case "baseline": {
        const said = report.includes("majority-class baseline") && numbers.auc_lift !== undefined;
        return {
          met: said,
          evidence: said
            ? `${OUT}/report.md: AUC lift ${fmt(numbers.auc_lift)}, accuracy lift ${fmt(numbers.accuracy_lift)} over the majority-class baseline`
            : `${OUT}/report.md has no baseline comparison (${inputs.metrics ? "metrics given" : "no training metrics"})`,
        };
      }
      case "lossCurve":
        return {
          met: hasPlot,
          evidence: hasPlot ? `${OUT}/loss.png written from ${inputs.history}` : "no loss history in the workspace, so no plot",
        };
      case "previous": {
        const said = /previous model/i.test(report);
        return {
          met: said,
          evidence: said
            ? `${OUT}/report.md states that no previous model's metrics are available offline`
            : "the report does not mention the previous model",
        };
      }
      case "classBalance":
        return {
          met: numbers.positive_rate !== undefined,
          evidence: `${OUT}/report.md: positive rate ${fmt(numbers.positive_rate)}`,
        };
      case "statistics": {
        const tested = /Welch t/.test(report);
        return {
          met: tested,
          evidence: tested ? `${OUT}/report.md: per-feature Welch t and p-value table` : "no statistics table in the report",
        };
      }
      default: {
        const never: never = key;
        throw new Error(`unknown check ${String(never)}`);
      }
    }
  });
}

/** The summary: the model against the baseline (or what the data shows), where the numbers came from, the report. */
function analysisSummary(wb: Workbench, e: AnalysisEvidence, sources: CodeSources): string {
  const { inputs, previousWanted } = e;
  const { numbers, hasPlot, renderer } = e.out;
  const lines: string[] = [];
  if (numbers.auc_lift !== undefined) {
    lines.push(
      `Offline analyst: model vs majority-class baseline: AUC lift ${fmt(numbers.auc_lift)}, accuracy lift ${fmt(numbers.accuracy_lift)}.`,
    );
  } else lines.push("Offline analyst: explored the data split.");
  if (previousWanted)
    lines.push("No previous model's metrics are available offline, so the comparison is against the baseline only.");
  if (numbers.positive_rate !== undefined) {
    lines.push(
      `Data: positive rate ${fmt(numbers.positive_rate)}; ${numbers.significant_features ?? 0} features differ between classes at p < 0.01.`,
    );
  }
  if (inputs.notes.length > 0) lines.push(`Inputs: ${inputs.notes.join("; ")}.`);
  lines.push(
    `Report: ${OUT}/report.md${hasPlot ? ` with the loss curve ${OUT}/loss.png (${plotRenderer(renderer)})` : ""}; unit tests: ${e.tests} passed.`,
  );
  lines.push(...followUpLines(wb, CODE, sources));
  return lines.join("\n");
}

/**
 * The offline analyst: runs `jobs/analyze.py` (written from the shipped copy
 * when the repository lacks it) on the training run's metrics and history and
 * the data step's splits, runs its unit tests, and judges the report it wrote.
 */
export async function runAnalyst(work: StepWork, tools: StepTools, ctx: OfflineContext): Promise<StepResult> {
  const wb = openWorkbench(work, tools, ctx);
  const sources = await ensureShipped(wb, CODE);
  const inputs: Inputs = { notes: [] };
  await trainingInputs(wb, inputs);
  if (await exists(wb, "data/train.csv")) inputs.data = "data/train.csv";
  if (await exists(wb, "data/validation_report.json")) inputs.validation = "data/validation_report.json";
  if (!inputs.metrics && !inputs.data) {
    return finishFailed(
      wb,
      "Offline analyst: nothing to analyse: no training metrics and no data split in the workspace or upstream.",
    );
  }
  const previousWanted = extraParam(work.step.params, EXTRA.compare) === "previous-model";
  // The seed of the run the plot shows: the training step's, else the analysis step's own when it names one.
  const seed = work.upstream.findLast((u) => u.role === "ml-engineer")?.result.metrics.seed ?? work.step.params.seed;
  const argv = ["python3", CODE.script, "--out", OUT, "--title", `Analysis: ${work.step.title}`, "--plot-note", plotNote(seed)];
  if (inputs.metrics) argv.push("--metrics", inputs.metrics);
  if (inputs.history) argv.push("--history", inputs.history);
  if (inputs.data) argv.push("--data", inputs.data);
  if (inputs.validation) argv.push("--validation", inputs.validation);
  if (previousWanted) argv.push("--previous-model-wanted");

  await tools.progress(
    inputs.metrics ? "Offline analyst: comparing the model with the baseline" : "Offline analyst: exploring the data",
  );
  const run = await bash(wb, argv.map(sh).join(" "));
  if (run.exitCode !== 0) return finishFailed(wb, `${failureLine("Offline analyst: the analysis failed", run)}\n${tail(run)}`);
  const tests = await runShippedTests(wb, CODE);
  if (tests.run.exitCode !== 0) {
    return finishFailed(
      wb,
      `${failureLine("Offline analyst: the analysis script's unit tests failed, so its report is not trusted", tests.run)}\n${tail(tests.run)}`,
    );
  }

  const out = await readReport(wb);
  const e: AnalysisEvidence = { inputs, out, previousWanted, tests: tests.count };
  return finish(
    wb,
    {
      summary: analysisSummary(wb, e, sources),
      criteria: judgeAnalysis(wb, e),
      metrics: out.numbers,
      artifacts: out.produced,
    },
    out.produced,
  );
}

import type { StepResult, StepWork } from "@mllead/contracts";
import type { CommandResult, StepTools } from "../types.js";
import { type ResolvedParams, resolveParams } from "./params.js";
import type { OfflineContext } from "./shared.js";
import { fmt } from "./shared.js";
import { type CodePaths, type CodeSources, ensureShipped, followUpLines, runShippedTests } from "./shipped-code.js";
import {
  answerCriteria,
  bash,
  failureLine,
  finish,
  finishFailed,
  openWorkbench,
  readJson,
  sh,
  tail,
  type Workbench,
} from "./workbench.js";

const CODE: CodePaths = { script: "jobs/prepare_data.py", tests: "jobs/test_prepare_data.py" };
const OUT = "data";
const SPLITS = ["train", "val", "test"] as const;
const OUTPUTS = [...SPLITS.map((s) => `${OUT}/${s}.csv`), `${OUT}/validation_report.json`, `${OUT}/validation_report.md`];
/** Scratch output of the reproducibility rerun, removed afterwards. */
const RERUN = `${OUT}/.rerun`;

interface ValidationReport {
  passed: boolean;
  problems: string[];
  rows: number;
  positive_rate: number;
  nulls: Record<string, number>;
  splits: { train: number; val: number; test: number };
  seed: number;
  imputation_medians?: Record<string, number>;
}

/**
 * Checks the written splits: rows that appear twice across them, and how far
 * the train split's medians are from the recorded imputation statistics
 * (imputing with the median leaves the median unchanged, so they match when
 * the statistics came from the train split).
 */
const SPLIT_CHECK = `python3 - <<'PY'
import csv, json, statistics
rows, seen, dups, cols = {}, set(), 0, {}
for name in ("train", "val", "test"):
    with open(f"${OUT}/{name}.csv") as f:
        reader = csv.reader(f)
        header = next(reader)
        body = [tuple(r) for r in reader]
    rows[name] = len(body)
    for r in body:
        dups += r in seen
        seen.add(r)
    if name == "train":
        cols = {c: [float(r[i]) for r in body] for i, c in enumerate(header)}
medians = json.load(open("${OUT}/validation_report.json")).get("imputation_medians", {})
gap = max((abs(statistics.median(cols[c]) - m) / max(1.0, abs(m)) for c, m in medians.items()), default=float("nan"))
print(json.dumps({"rows": rows, "duplicates": dups, "median_gap": gap, "features": len(medians)}))
PY`;

interface SplitCheck {
  rows: Record<string, number>;
  duplicates: number;
  median_gap: number;
  features: number;
}

/** The split check's JSON line (the last of its stdout), or undefined when it printed none (the log says why). */
function splitCheckOf(wb: Workbench, result: CommandResult): SplitCheck | undefined {
  if (result.exitCode !== 0) return undefined;
  try {
    return JSON.parse(result.stdout.trimEnd().split("\n").at(-1) ?? "") as SplitCheck;
  } catch (err) {
    // The evidence then says the splits could not be checked, with the command's output.
    wb.tools.log.warn({ err }, "offline data-engineer: the split check printed no JSON");
    return undefined;
  }
}

/** What the offline data-engineer judges its step on. */
interface DataEvidence {
  p: ResolvedParams;
  report: ValidationReport;
  check: SplitCheck | undefined;
  checkRun: CommandResult;
  rerun: CommandResult;
  tests: { run: CommandResult; count: number };
}

const nullsImputed = (report: ValidationReport) => Object.values(report.nulls).reduce((a, b) => a + b, 0);

function testEvidence(tests: DataEvidence["tests"]): string {
  const passed = tests.run.exitCode === 0;
  return `${tests.count} unit test(s) ${passed ? "passed" : `failed:\n${tail(tests.run, 4)}`}`;
}

/** Each criterion the offline data-engineer recognises, judged on the report, the split check and the rerun. */
function judgeData(wb: Workbench, e: DataEvidence) {
  const { p, report, check, checkRun, rerun } = e;
  const { train, val, test } = report.splits;
  const testsPassed = e.tests.run.exitCode === 0;
  return answerCriteria(wb, "data-engineer", (key) => {
    switch (key) {
      case "validated":
        return {
          met: report.passed,
          evidence: `${OUT}/validation_report.json (synthetic stand-in for \`${p.dataset}\`, seed ${report.seed}): passed=${report.passed}, ${report.problems.length} problem(s), positive rate ${fmt(report.positive_rate)}`,
        };
      case "splits": {
        const counted = check ? SPLITS.map((s) => check.rows[s] ?? 0) : [];
        const adds = train + val + test === report.rows && counted.join() === [train, val, test].join();
        return {
          met: adds && check?.duplicates === 0,
          evidence: check
            ? `${train} + ${val} + ${test} = ${train + val + test} of ${report.rows} rows (the CSVs hold ${counted.join(" + ")}); ${check.duplicates} row(s) appear in more than one split`
            : `could not check the split files:\n${tail(checkRun, 4)}`,
        };
      }
      case "fitOnTrain":
        return {
          met: check !== undefined && check.features > 0 && check.median_gap < 1e-5,
          evidence: check
            ? `the ${check.features} imputation medians in the report equal the train split's medians (largest relative gap ${check.median_gap.toExponential(1)}; the CSVs keep 6 significant digits); the split comes first in the pipeline`
            : "could not compare the imputation medians with the train split",
        };
      case "seeded":
        return {
          met: rerun.exitCode === 0 && report.seed === p.seed,
          evidence:
            rerun.exitCode === 0
              ? `reran with seed ${p.seed}: train/val/test.csv byte-identical (cmp)`
              : `the rerun with seed ${p.seed} differs or failed:\n${tail(rerun, 3)}`,
        };
      case "tests":
        return { met: testsPassed, evidence: testEvidence(e.tests) };
      default: {
        const never: never = key;
        throw new Error(`unknown check ${String(never)}`);
      }
    }
  });
}

/** The summary: what was validated and split, and how the findings were addressed. */
function dataSummary(wb: Workbench, e: DataEvidence, sources: CodeSources): string {
  const { p, report } = e;
  const { train, val, test } = report.splits;
  const lines = [
    `Offline data-engineer: validated \`${p.dataset}\` (offline: a deterministic synthetic churn-like table, seed ${report.seed}): ${report.rows} rows, positive rate ${fmt(report.positive_rate)}; schema, null, range and class-balance checks passed.`,
    `Split first, then imputed ${nullsImputed(report)} nulls with train-split medians: train ${train}, val ${val}, test ${test}; ${testEvidence(e.tests)}.`,
    ...(p.target !== "churned"
      ? [`The plan's target is \`${p.target}\`; the offline stand-in table's target is \`churned\`.`]
      : []),
    ...followUpLines(wb, CODE, sources),
  ];
  return lines.join("\n");
}

/**
 * The offline data-engineer: runs the pipeline (`jobs/prepare_data.py`,
 * written from the shipped copy when the repository lacks it) with the step's
 * dataset and seed on a deterministic synthetic stand-in table, runs its unit
 * tests, checks the splits it wrote and a rerun, and finishes with the evidence.
 */
export async function runDataEngineer(work: StepWork, tools: StepTools, ctx: OfflineContext): Promise<StepResult> {
  const wb = openWorkbench(work, tools, ctx);
  const p = resolveParams(work.step.params);
  const sources = await ensureShipped(wb, CODE);
  const args = `--rows ${p.rows} --seed ${p.seed} --table ${sh(p.dataset)}`;

  await tools.progress(
    `Offline data-engineer: validating and splitting \`${p.dataset}\` (a deterministic synthetic stand-in, seed ${p.seed})`,
  );
  const run = await bash(wb, `python3 ${CODE.script} --out ${OUT} ${args}`);
  if (run.exitCode !== 0 && run.exitCode !== 2) {
    return finishFailed(wb, `${failureLine("Offline data-engineer: the data pipeline crashed", run)}\n${tail(run)}`);
  }
  const report = await readJson<ValidationReport>(wb, `${OUT}/validation_report.json`);
  if (!report)
    return finishFailed(wb, `Offline data-engineer: the pipeline wrote no readable ${OUT}/validation_report.json:\n${tail(run)}`);
  if (!report.passed) {
    return finishFailed(wb, `Offline data-engineer: validation of \`${p.dataset}\` failed: ${report.problems.join("; ")}`);
  }

  await tools.progress("Offline data-engineer: running the pipeline's unit tests and checking the splits");
  const tests = await runShippedTests(wb, CODE);
  const checkRun = await bash(wb, SPLIT_CHECK);
  const check = splitCheckOf(wb, checkRun);
  const same = SPLITS.map((s) => `cmp ${OUT}/${s}.csv ${RERUN}/${s}.csv`).join(" && ");
  const rerun = await bash(
    wb,
    `python3 ${CODE.script} --out ${RERUN} ${args} > /dev/null && ${same}; status=$?; rm -rf ${RERUN}; exit $status`,
  );

  const evidence: DataEvidence = { p, report, check, checkRun, rerun, tests };
  return finish(wb, {
    summary: dataSummary(wb, evidence, sources),
    criteria: judgeData(wb, evidence),
    metrics: {
      rows: report.rows,
      positive_rate: report.positive_rate,
      train_rows: report.splits.train,
      val_rows: report.splits.val,
      test_rows: report.splits.test,
      nulls_imputed: nullsImputed(report),
      tests_passed: tests.run.exitCode === 0 ? tests.count : 0,
    },
    artifacts: OUTPUTS,
  });
}

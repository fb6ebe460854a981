import type { StepResult, StepWork } from "@mllead/contracts";
import type { SubmittedJob } from "../tools/gpu-job.js";
import type { StepTools } from "../types.js";
import { isOfflineModel, modelName, OFFLINE_MODELS, type ResolvedParams, resolveParams } from "./params.js";
import { fmt, type OfflineContext, readJob } from "./shared.js";
import { type CodePaths, type CodeSources, ensureShipped, followUpLines, runShippedTests } from "./shipped-code.js";
import {
  answerCriteria,
  exists,
  failureLine,
  finish,
  finishFailed,
  finiteMetrics,
  openWorkbench,
  readJson,
  submitJob,
  tail,
  type Workbench,
  write,
} from "./workbench.js";

const CODE: CodePaths = { script: "jobs/train.py", tests: "jobs/test_train.py" };
/** The data pipeline `train.py` imports from its own directory when no splits exist (a pure model change). */
const GENERATOR = "jobs/prepare_data.py";
const SPLITS = ["data/train.csv", "data/val.csv", "data/test.csv"];
/** What `train.py` writes, copied back by SubmitGpuJob under `runs/<jobId>/`. */
const JOB_OUTPUTS = ["metrics.json", "history.json", "model.npz", "model_card.json"];
const JOB_TIMEOUT_SEC = 900;

interface HistoryRow {
  epoch: number;
  train_loss: number;
}

interface ModelCard {
  model?: string;
  lr?: number;
  epochs?: number;
  seed?: number;
}

/** Makes sure the generator is in the workspace so the job can rebuild the splits. */
async function ensureGenerator(wb: Workbench): Promise<void> {
  if (!(await exists(wb, GENERATOR))) await write(wb, GENERATOR, await readJob(wb.ctx, "prepare_data.py"));
}

/** The training job's argv: the step's settings, on the splits in `data/`. */
function trainCommand(p: ResolvedParams): string[] {
  return [
    "python3",
    CODE.script,
    "--data",
    "data",
    "--epochs",
    String(p.epochs),
    "--lr",
    String(p.learningRate),
    "--batch-size",
    String(p.batchSize),
    "--model",
    p.model,
    "--seed",
    String(p.seed),
  ];
}

/** Submits the training job: with the data step's splits as inputs, or the generator to rebuild them. */
function submitTraining(wb: Workbench, p: ResolvedParams, command: string[], haveSplits: boolean): Promise<SubmittedJob> {
  return submitJob(wb, {
    command,
    files: haveSplits ? [CODE.script] : [CODE.script, GENERATOR],
    ...(haveSplits ? { inputs: SPLITS } : {}),
    gpus: p.gpus,
    timeout_sec: JOB_TIMEOUT_SEC,
    description: `offline ml-engineer: ${p.model}, ${p.epochs} epochs, lr ${p.learningRate}, batch ${p.batchSize}, seed ${p.seed}`,
  });
}

/** What the job left under `runs/<jobId>/`: its metrics, history and model card, and the outputs saved. */
interface JobOutputs {
  jobId: string;
  dir: string;
  m: Record<string, number>;
  history: HistoryRow[];
  card: ModelCard;
  saved: string[];
}

async function readOutputs(wb: Workbench, jobId: string): Promise<JobOutputs> {
  const dir = `runs/${jobId}`;
  const m = finiteMetrics((await readJson<Record<string, unknown>>(wb, `${dir}/metrics.json`)) ?? {});
  const history = (await readJson<HistoryRow[]>(wb, `${dir}/history.json`)) ?? [];
  const card = (await readJson<ModelCard>(wb, `${dir}/model_card.json`)) ?? {};
  const saved: string[] = [];
  for (const f of JOB_OUTPUTS) if (await exists(wb, `${dir}/${f}`)) saved.push(`${dir}/${f}`);
  return { jobId, dir, m, history, card, saved };
}

const lossOf = (o: JobOutputs) => ({ first: o.history[0]?.train_loss, last: o.history.at(-1)?.train_loss });
const liftOf = (o: JobOutputs) => (o.m.val_auc ?? Number.NaN) - (o.m.baseline_auc ?? 0.5);

/** Each criterion the offline ml-engineer recognises, judged on the job's outputs. */
function judgeTraining(wb: Workbench, p: ResolvedParams, command: string[], o: JobOutputs) {
  const { dir, m, history, card, saved, jobId } = o;
  const { first, last } = lossOf(o);
  const lift = liftOf(o);
  return answerCriteria(wb, "ml-engineer", (key) => {
    switch (key) {
      case "epochs":
        return {
          met: history.length === p.epochs && first !== undefined && last !== undefined && last < first,
          evidence: `${dir}/history.json: ${history.length} of ${p.epochs} epochs; train loss ${fmt(first, 4)} → ${fmt(last, 4)}`,
        };
      case "settings":
        return {
          met: card.model === p.model && card.lr === p.learningRate,
          evidence: `${dir}/model_card.json: model=${card.model ?? "missing"}, lr=${card.lr ?? "missing"}; job argv: ${command.slice(1).join(" ")}`,
        };
      case "baseline":
        return {
          met: m.val_auc !== undefined && m.baseline_accuracy !== undefined && m.baseline_auc !== undefined,
          evidence: `val AUC ${fmt(m.val_auc)}, val accuracy ${fmt(m.val_accuracy)}; majority-class accuracy ${fmt(m.baseline_accuracy)}, AUC ${fmt(m.baseline_auc)}`,
        };
      case "beatsBaseline":
        return { met: lift >= 0.05, evidence: `val AUC ${fmt(m.val_auc)} vs ${fmt(m.baseline_auc ?? 0.5)}: lift ${fmt(lift)}` };
      case "seeded":
        return { met: m.seed === p.seed, evidence: `${dir}/metrics.json: seed=${m.seed ?? "missing"} (asked ${p.seed})` };
      case "artifacts": {
        const want = ["metrics.json", "history.json", "model.npz"];
        return {
          met: want.every((w) => saved.includes(`${dir}/${w}`)),
          evidence: `copied back from job ${jobId} and saved: ${saved.join(", ") || "nothing"}`,
        };
      }
      default: {
        const never: never = key;
        throw new Error(`unknown check ${String(never)}`);
      }
    }
  });
}

/** The summary: what was trained, how it compares with the baseline, and how the findings were addressed. */
function trainingSummary(
  wb: Workbench,
  p: ResolvedParams,
  o: JobOutputs,
  extra: { tests: number; haveSplits: boolean; sources: CodeSources },
): string {
  const { m } = o;
  const { first, last } = lossOf(o);
  const lines = [
    `Offline ml-engineer: trained a ${modelName(p.model)} for ${p.epochs} epochs (lr ${p.learningRate}, batch ${p.batchSize}, seed ${p.seed}) as job ${o.jobId}.`,
    `Val AUC ${fmt(m.val_auc)} vs the majority-class baseline's 0.5 (lift ${fmt(liftOf(o))}); val accuracy ${fmt(m.val_accuracy)} vs ${fmt(m.baseline_accuracy)}; test AUC ${fmt(m.test_auc)}.`,
    `Train loss ${fmt(first, 4)} → ${fmt(last, 4)}; unit tests: ${extra.tests} passed.`,
  ];
  if (!extra.haveSplits) {
    lines.push(`No data splits in the workspace: the job rebuilt the synthetic splits itself (seed ${p.seed}).`);
  }
  lines.push(...followUpLines(wb, CODE, extra.sources));
  return lines.join("\n");
}

/**
 * The offline ml-engineer: tests `jobs/train.py` (written from the shipped
 * copy when the repository lacks it), submits it as a GPU job with the step's
 * params (model, epochs, learning rate, batch size, seed, GPUs) on the data
 * step's splits, and judges the job's metrics, history and model card.
 */
export async function runMlEngineer(work: StepWork, tools: StepTools, ctx: OfflineContext): Promise<StepResult> {
  const wb = openWorkbench(work, tools, ctx);
  const p = resolveParams(work.step.params);
  if (!isOfflineModel(p.model)) {
    return finishFailed(
      wb,
      `Offline ml-engineer: the shipped training script trains only ${OFFLINE_MODELS.join(" or ")}, not \`${p.model}\`; with Claude the step would write that model's code.`,
    );
  }
  const sources = await ensureShipped(wb, CODE);

  await tools.progress("Offline ml-engineer: running the training script's unit tests");
  const tests = await runShippedTests(wb, CODE);
  if (tests.run.exitCode !== 0) {
    return finishFailed(
      wb,
      `${failureLine("Offline ml-engineer: the training script's unit tests failed, so no job was submitted", tests.run)}\n${tail(tests.run)}`,
    );
  }

  const haveSplits = (await Promise.all(SPLITS.map((s) => exists(wb, s)))).every(Boolean);
  if (!haveSplits) await ensureGenerator(wb);
  const command = trainCommand(p);
  const job = await submitTraining(wb, p, command, haveSplits);
  if (job.result.outcome !== "succeeded") {
    return finishFailed(
      wb,
      `Offline ml-engineer: training job ${job.jobId} ${job.result.outcome}:\n${job.text.split("\n").slice(-8).join("\n")}`,
    );
  }
  const outputs = await readOutputs(wb, job.jobId);
  return finish(wb, {
    summary: trainingSummary(wb, p, outputs, { tests: tests.count, haveSplits, sources }),
    criteria: judgeTraining(wb, p, command, outputs),
    metrics: outputs.m,
    artifacts: outputs.saved,
  });
}

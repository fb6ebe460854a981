import type { Artifact, StepResult, StepWork } from "@mllead/contracts";
import type { GpuJobSpec, StepTools } from "../types.js";
import { failed, findArtifact, fmt, judgeCriteria, type OfflineContext, outputTail, readJob } from "./shared.js";
import { followUpLines, runShippedTests, writeShippedCode } from "./shipped-code.js";
import { DEFAULT_EPOCHS, DEFAULT_LR } from "./task-profile.js";

const CODE = { script: "training/train.py", tests: "training/test_train.py" } as const;

/** Training settings read back from the step's handoff, so plan revisions (e.g. "use 20 epochs") reach the job. */
export interface TrainSettings {
  epochs: number;
  lr: number;
  model: "logreg" | "mlp";
}

/** Reads epochs, learning rate and model type from a step's title and requirements. */
export function trainSettings(work: StepWork): TrainSettings {
  const text = [work.step.title, ...work.step.requirements].join("\n");
  const epochs = /Train for (\d+) epochs/i.exec(text) ?? /\b(\d+) epochs?\b/i.exec(text);
  const lr = /learning rate (\d*\.?\d+(?:e-?\d+)?)/i.exec(text);
  return {
    epochs: epochs?.[1] ? Math.min(Math.max(Number(epochs[1]), 1), 200) : DEFAULT_EPOCHS,
    lr: lr?.[1] ? Number(lr[1]) : DEFAULT_LR,
    model: /\bMLP\b/i.test(text) ? "mlp" : "logreg",
  };
}

interface HistoryRow {
  epoch: number;
  train_loss: number;
}

/** The offline ml-engineer: writes the shipped training script, tests it, and runs it as a GPU job. */
export async function runMlEngineer(work: StepWork, tools: StepTools, ctx: OfflineContext): Promise<StepResult> {
  const settings = trainSettings(work);
  const sources = await writeShippedCode(tools, ctx, CODE);
  const filesChanged = [CODE.script, CODE.tests];
  const artifacts: Artifact[] = [];
  for (const path of filesChanged) artifacts.push(await tools.saveArtifact(path, { contentType: "text/x-python" }));

  await tools.progress("Running the training script's unit tests");
  const { run: testRun, count: testCount } = await runShippedTests(tools, CODE);
  if (testRun.exitCode !== 0) {
    return failed(`The training script's unit tests failed, so no job was submitted:\n${outputTail(testRun)}`, {
      artifacts,
      filesChanged,
    });
  }

  const inputs = ["train.csv", "val.csv", "test.csv"]
    .map((f) => findArtifact(work.upstream, f))
    .filter((a) => a !== undefined)
    .map((a) => ({ objectName: a.objectName, path: `data/${a.name.split("/").pop()}` }));
  const files = [{ path: "train.py", content: sources.script }];
  // A pure model change has no data step: ship the generator so the job can rebuild the same splits.
  if (inputs.length < 3) files.push({ path: "prepare_data.py", content: await readJob(ctx, "prepare_data.py") });
  const spec: GpuJobSpec = {
    command: [
      "python3",
      "train.py",
      "--data",
      "data",
      "--epochs",
      String(settings.epochs),
      "--lr",
      String(settings.lr),
      "--model",
      settings.model,
      "--seed",
      "42",
    ],
    files,
    ...(inputs.length === 3 ? { inputs } : {}),
    gpus: 1,
    timeoutSec: 900,
  };
  await tools.progress(`Submitting training: ${settings.model}, ${settings.epochs} epochs, lr ${settings.lr}`);
  const { jobId, result } = await tools.runGpuJob(spec);
  artifacts.push(...result.artifacts);
  if (result.outcome !== "succeeded") {
    return {
      ...failed(`Training job ${jobId} ${result.outcome} (exit ${result.exitCode}):\n${result.logTail.slice(-8).join("\n")}`, {
        artifacts,
        filesChanged,
      }),
      jobId,
    };
  }

  const m = result.metrics;
  let history: HistoryRow[] = [];
  const historyArtifact = result.artifacts.find((a) => a.name.split("/").pop() === "history.json");
  if (historyArtifact) {
    await tools.fetchArtifact(historyArtifact, `runs/${jobId}/history.json`);
    history = JSON.parse(await tools.readFile(`runs/${jobId}/history.json`)) as HistoryRow[];
  }
  const first = history[0]?.train_loss;
  const last = history.at(-1)?.train_loss;
  const names = new Set(result.artifacts.map((a) => a.name.split("/").pop()));
  const lift = (m.val_auc ?? Number.NaN) - (m.baseline_auc ?? 0.5);
  const criteria = judgeCriteria(work.step.acceptanceCriteria, (c) => {
    if (/epochs/i.test(c))
      return {
        met: history.length === settings.epochs && first !== undefined && last !== undefined && last < first,
        evidence: `${history.length} epochs; train loss ${fmt(first, 4)} → ${fmt(last, 4)}`,
      };
    if (/beats/i.test(c)) return { met: lift >= 0.05, evidence: `val AUC ${fmt(m.val_auc)} vs 0.5: lift ${fmt(lift)}` };
    if (/baseline/i.test(c))
      return {
        met: m.val_auc !== undefined && m.baseline_accuracy !== undefined,
        evidence: `val AUC ${fmt(m.val_auc)}, val accuracy ${fmt(m.val_accuracy)}; majority-class accuracy ${fmt(m.baseline_accuracy)}, AUC ${fmt(m.baseline_auc)}`,
      };
    if (/seed/i.test(c)) return { met: m.seed === 42, evidence: `metrics.json seed=${m.seed}` };
    if (/artifacts/i.test(c)) {
      const want = ["metrics.json", "history.json", "model.npz"];
      return { met: want.every((w) => names.has(w)), evidence: `saved: ${[...names].sort().join(", ")}` };
    }
    return undefined;
  });

  const lines = [
    `Trained a ${settings.model === "mlp" ? "one-hidden-layer MLP" : "logistic regression"} for ${settings.epochs} epochs (lr ${settings.lr}, seed 42) as job ${jobId} on ${result.host}.`,
    `Val AUC ${fmt(m.val_auc)} vs the majority-class baseline's 0.5 (lift ${fmt(lift)}); val accuracy ${fmt(m.val_accuracy)} vs ${fmt(m.baseline_accuracy)}; test AUC ${fmt(m.test_auc)}.`,
    `Train loss ${fmt(first, 4)} → ${fmt(last, 4)}; unit tests: ${testCount} passed.`,
  ];
  if (inputs.length < 3) lines.push("No data step ran: the job rebuilt the synthetic splits itself (seed 42).");
  lines.push(...followUpLines(work, CODE, sources, "offline, only epochs, learning rate and model type change the job."));
  return { status: "succeeded", summary: lines.join("\n").slice(0, 4000), artifacts, metrics: m, filesChanged, criteria, jobId };
}

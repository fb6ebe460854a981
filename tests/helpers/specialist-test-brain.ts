import { type Brain, type StepTools, TransientBrainError } from "@mllead/brain";
import type { StepResult, StepWork } from "@mllead/contracts";

/** A training script for GPU jobs: prints progress and its metrics as the last line. */
export const TRAIN_PY = [
  "import json",
  "print('::mllead-progress ' + json.dumps({'step': 1, 'total': 1, 'metrics': {'loss': 0.3}}), flush=True)",
  "print(json.dumps({'accuracy': 0.91, 'loss': 0.3}))",
].join("\n");

/** The GPU job the test brain's ML engineer submits (its id is derived from this content). */
export const TRAIN_JOB = {
  command: ["python3", "train.py"],
  files: [{ path: "train.py", content: TRAIN_PY }],
  gpus: 1,
  timeoutSec: 60,
};

/**
 * A brain for specialist tests: it only runs steps (`runStep`, the subclass's); planning and learning are the tech
 * lead's, and throw if a test reaches them. `summarize` answers a fixed text.
 */
export abstract class StepOnlyBrain implements Brain {
  readonly kind = "offline" as const;

  async plan(): Promise<never> {
    throw new Error("a specialist test brain does not plan");
  }

  async summarize(): Promise<string> {
    return "summary";
  }

  async learn(): Promise<never> {
    throw new Error("a specialist test brain does not learn");
  }

  async lessonFromFinding(): Promise<never> {
    throw new Error("a specialist test brain does not learn");
  }

  abstract runStep(work: StepWork, tools: StepTools): Promise<StepResult>;
}

/**
 * A small brain for tests that uses the real tools: the data engineer runs a
 * python command that writes a CSV and saves it as an artifact; the ML engineer
 * runs a GPU job; the analyst reads a file the step names in its objective
 * (failing when the read is refused). `runs` counts `runStep` calls per step attempt.
 */
export class TestBrain extends StepOnlyBrain {
  readonly runs = new Map<string, number>();

  runsOf(work: Pick<StepWork, "taskId" | "stepId" | "attempt">): number {
    return this.runs.get(`${work.taskId}:${work.stepId}:${work.attempt}`) ?? 0;
  }

  async runStep(work: StepWork, tools: StepTools): Promise<StepResult> {
    const key = `${work.taskId}:${work.stepId}:${work.attempt}`;
    this.runs.set(key, (this.runs.get(key) ?? 0) + 1);
    switch (work.role) {
      case "data-engineer": {
        // `sleep:<sec>` makes a slow step, for shutdown tests.
        const sleep = /^sleep:(\d+)$/.exec(work.step.objective)?.[1];
        if (sleep) await tools.run(["sleep", sleep]);
        // `overloaded`: the first run meets an API that stays overloaded past the brain's own retries.
        if (work.step.objective === "overloaded" && this.runsOf(work) === 1) {
          throw new TransientBrainError("step", "Claude is overloaded (529) after 4 tries", 1000);
        }
        return this.dataStep(tools);
      }
      case "ml-engineer":
        return this.trainStep(tools);
      case "analyst":
        return this.readStep(work, tools);
      case "code-reviewer":
        throw new Error("the test brain has no reviewer");
      default: {
        const never: never = work.role;
        throw new Error(`unknown role ${String(never)}`);
      }
    }
  }

  private async dataStep(tools: StepTools): Promise<StepResult> {
    await tools.writeFile(
      "make_data.py",
      "import os\nos.makedirs('data', exist_ok=True)\nopen('data/raw.csv','w').write('x,y\\n1,2\\n3,4\\n')\n",
    );
    const r = await tools.run(["python3", "make_data.py"]);
    if (r.exitCode !== 0) throw new Error(`make_data.py failed: ${r.stderr}`);
    await tools.progress("wrote data/raw.csv");
    const rows = (await tools.readFile("data/raw.csv")).trim().split("\n").length - 1;
    const artifact = await tools.saveArtifact("data/raw.csv");
    return {
      status: "succeeded",
      summary: `Wrote data/raw.csv with ${rows} rows`,
      artifacts: [artifact],
      metrics: { rows },
      filesChanged: await tools.listFiles(),
      criteria: done(`python3 make_data.py wrote ${rows} rows`),
    };
  }

  private async trainStep(tools: StepTools): Promise<StepResult> {
    const { jobId, result } = await tools.runGpuJob(TRAIN_JOB);
    if (result.outcome !== "succeeded") throw new Error(`training job ${jobId} ${result.outcome}`);
    return {
      status: "succeeded",
      summary: `Trained: accuracy ${result.metrics.accuracy}`,
      artifacts: result.artifacts,
      metrics: result.metrics,
      filesChanged: [],
      criteria: done(`job ${jobId} ${result.outcome}`),
      jobId,
    };
  }

  private async readStep(work: StepWork, tools: StepTools): Promise<StepResult> {
    const text = await tools.readFile(work.step.objective);
    return {
      status: "succeeded",
      summary: `read ${text.length} chars`,
      artifacts: [],
      metrics: {},
      filesChanged: [],
      criteria: done(`read ${work.step.objective}`),
    };
  }
}

/** The one criterion (`ac1`) of `stepWork`'s steps, proved with `evidence`. */
function done(evidence: string): StepResult["criteria"] {
  return [{ id: "ac1", criterion: "it is done", met: true, evidence }];
}

/** A StepWork message for a role, with the step's fields filled in. */
export function stepWork(
  taskId: string,
  stepId: string,
  role: StepWork["role"],
  overrides: { objective?: string; usesGpu?: boolean; attempt?: number } = {},
): StepWork {
  return {
    v: 1,
    taskId,
    stepId,
    attempt: overrides.attempt ?? 1,
    role,
    step: {
      id: stepId,
      role,
      title: `${role} step`,
      objective: overrides.objective ?? "do the work",
      context: "",
      requirements: ["do it"],
      acceptanceCriteria: [{ id: "ac1", text: "it is done" }],

      params: {},
      nextHandoff: { to: "tech-lead", reason: "done" },
      dependsOn: [],
      changesCode: false,
      usesGpu: overrides.usesGpu ?? false,
    },
    task: { text: "train a baseline", requester: { userId: "U1" }, slack: { channel: "C1", threadTs: "1.1", messageTs: "1.1" } },
    upstream: [],
    findings: [],
    reviewScope: [],
    brain: "offline",
  };
}

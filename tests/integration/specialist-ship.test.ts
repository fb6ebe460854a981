import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createToolbox, type StepTools } from "@mllead/brain";
import { Bus } from "@mllead/bus";
import { CONSUMERS, everyResource, ROLES, type StepResult, StepWork, SUBJECTS, type TaskEvent } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../services/specialist-agent/src/app.js";
import { defaultToolSettings } from "../../services/specialist-agent/src/config.js";
import { acceptAnyWork } from "../../services/specialist-agent/src/dispatched-work.js";
import { git, tempDir } from "../helpers/git-repos.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { stepWork, TestBrain } from "../helpers/specialist-test-brain.js";
import { collectEvents, waitFor } from "../helpers/wait.js";
import { startTestRunner } from "./gpu-runner-helpers.js";

const log = createLogger("ship-test", process.env.TEST_LOG_LEVEL ?? "silent");

/** The job: imports the team's package (and the step's new module), lists what it was shipped, reports numbers. */
const RUN_PY = `import json, os
files = sorted(os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk('.') for f in fs)
import mlpkg
from mlpkg.extra import BONUS
print("\\n".join(files))
metrics = {"files": len(files), "value": mlpkg.model.VALUE, "bonus": BONUS,
           "ignored_shipped": int(os.path.exists("notes.secret") or os.path.exists("outputs"))}
json.dump(metrics, open(os.path.join(os.environ["MLLEAD_ARTIFACTS_DIR"], "metrics.json"), "w"))
`;

/** A team repository of 30 committed files: a package, 25 modules, the job script, README and .gitignore. */
async function repoOf30(dir: string): Promise<string> {
  const repo = join(dir, "team");
  await mkdir(join(repo, "mlpkg"), { recursive: true });
  await mkdir(join(repo, "src"));
  await writeFile(join(repo, "mlpkg", "__init__.py"), "from . import model\n");
  await writeFile(join(repo, "mlpkg", "model.py"), "VALUE = 42\n");
  for (let i = 0; i < 25; i++) await writeFile(join(repo, "src", `mod_${String(i).padStart(2, "0")}.py`), `X = ${i}\n`);
  await writeFile(join(repo, "run.py"), RUN_PY);
  await writeFile(join(repo, "README.md"), "# team\n");
  await writeFile(join(repo, ".gitignore"), "outputs/\n*.secret\n");
  await git(repo, "init", "--quiet");
  await git(repo, "add", "--all");
  await git(repo, "commit", "--quiet", "-m", "Initial model");
  expect((await git(repo, "ls-files")).split("\n")).toHaveLength(30);
  return repo;
}

/** The ML engineer: adds a module (untracked) and two ignored files, then ships the worktree as a job. */
class ShipBrain extends TestBrain {
  answer = "";
  listing = "";
  override async runStep(work: StepWork, tools: StepTools): Promise<StepResult> {
    await tools.writeFile("mlpkg/extra.py", "BONUS = 7\n");
    await tools.writeFile("notes.secret", "do not ship\n");
    await tools.writeFile("outputs/run1/weights.bin", "big\n");
    const box = createToolbox(work, tools, ["Glob", "SubmitGpuJob", "FinishStep"]);
    this.listing = await box.call("Glob", { pattern: "**/*.secret" });
    this.answer = await box.call("SubmitGpuJob", { command: ["python3", "run.py"], gpus: 0, timeout_sec: 60 });
    await box.call("FinishStep", {
      summary: this.answer.slice(0, 4000),
      criteria: [{ id: "ac1", met: true, evidence: "job ran" }],
    });
    return box.state.result as StepResult;
  }
}

describe("SubmitGpuJob ships the worktree", () => {
  it("30 committed files, a package and a new file reach the job, which imports them; ignored files do not", async () => {
    await using dir = await tempDir("mllead-ship-");
    await using nats = await startNatsServer();
    const repo = await repoOf30(dir.path);
    // The real runner takes the job from the queue, unpacks the shipped worktree and runs it.
    await using _runner = await startTestRunner(nats.url);
    const bus = await Bus.connect({ url: nats.url, name: "ship-test", log });
    try {
      await bus.setUp(everyResource(ROLES.map((r) => CONSUMERS.step(r))));
      const brain = new ShipBrain();
      const tools = defaultToolSettings({ PATH: process.env.PATH });
      const app = buildApp({
        bus,
        brain,
        log,
        checkWork: acceptAnyWork,
        settings: {
          roles: [...ROLES],
          workspaceDir: join(dir.path, "ws"),
          stateDir: join(dir.path, "state"),
          repo,
          concurrency: 1,
          tools: { ...tools, gpuWait: { ...tools.gpuWait, pollMs: 300 } },
          sandbox: {
            mode: "process",
            network: false,
            limits: { memoryBytes: 2 * 1024 ** 3, processes: 256, fileSizeBytes: 1024 ** 3 },
          },
        },
      });
      const running = await app.start();
      const events = await collectEvents(bus, "ship1");
      await bus.publish(SUBJECTS.stepWork("ml-engineer"), StepWork, stepWork("ship1", "train", "ml-engineer"), "ship1");
      await waitFor(() => events.some((e) => e.type === "step.completed" || e.type === "step.failed"), 60_000, "the step");
      await running.stop();
      const finished = events.find((e): e is Extract<TaskEvent, { type: "job.finished" }> => e.type === "job.finished");
      expect(finished?.result.outcome, brain.answer).toBe("succeeded");
      // 30 committed files + the step's new module; neither ignored file.
      expect(finished?.result.metrics).toEqual({ files: 31, value: 42, bonus: 7, ignored_shipped: 0 });
      expect(brain.answer).toMatch(
        /^job \S+ succeeded on test-host .*\nshipped the working directory: 31 files, [\d.]+ MiB compressed\n/,
      );
      expect(brain.answer).toContain("mlpkg/extra.py");
      expect(brain.listing).toBe(
        "No files found\n(2 path(s) that .gitignore ignores were left out (as ripgrep does): Read them by name, or list them with Bash)",
      );
    } finally {
      await bus.close();
    }
  });
});

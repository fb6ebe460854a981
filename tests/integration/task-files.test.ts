import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { StepTools } from "@mllead/brain";
import { Bus } from "@mllead/bus";
import {
  CONSUMERS,
  everyResource,
  lastEvent,
  OBJECT_STORE,
  ROLES,
  type StepResult,
  StepWork,
  SUBJECTS,
  type TaskEvent,
} from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { buildApp, type RunningSpecialists } from "../../services/specialist-agent/src/app.js";
import { TaskBranchStore } from "../../services/specialist-agent/src/branch-store.js";
import { defaultToolSettings } from "../../services/specialist-agent/src/config.js";
import { acceptAnyWork } from "../../services/specialist-agent/src/dispatched-work.js";
import type { SpecialistSettings } from "../../services/specialist-agent/src/settings.js";
import { tempDir } from "../helpers/git-repos.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { StepOnlyBrain, stepWork } from "../helpers/specialist-test-brain.js";
import { waitFor } from "../helpers/wait.js";

const log = createLogger("test", "silent");
const MB = 1024 * 1024;

/**
 * A brain whose step runs the shell script its objective holds (in the step's sandbox, in its worktree) and
 * reports the script's output as its summary. `{"sh": …, "together": n}` makes it wait, after the script,
 * until n steps of the test have run theirs: parallel steps from the same head.
 */
class ScriptBrain extends StepOnlyBrain {
  private ran = 0;

  async runStep(work: StepWork, tools: StepTools): Promise<StepResult> {
    const { sh, together } = JSON.parse(work.step.objective) as { sh: string; together?: number };
    const out = await tools.run(["sh", "-c", sh]);
    this.ran++;
    if (together) await waitFor(() => this.ran >= together, 60_000, "every parallel step to run its script");
    return {
      status: out.exitCode === 0 ? "succeeded" : "failed",
      summary: `${out.stdout}${out.stderr}`.slice(0, 4000) || "(no output)",
      artifacts: [],
      metrics: {},
      filesChanged: [],
      criteria: [{ id: "ac1", criterion: "it is done", met: out.exitCode === 0, evidence: "the script's exit code" }],
    };
  }
}

/** Two specialist replicas (own state and workspace dirs, so own demo repositories) on one NATS server. */
async function setup(own: [Partial<SpecialistSettings>, Partial<SpecialistSettings>]) {
  const nats = await startNatsServer();
  const dir = await tempDir("mllead-task-files-");
  const bus = await Bus.connect({ url: nats.url, name: "task-files-test", log });
  await bus.setUp(everyResource(ROLES.map((r) => CONSUMERS.step(r))));
  const brain = new ScriptBrain();
  const replicas: RunningSpecialists[] = [];
  for (const [i, name] of ["a", "b"].entries()) {
    const app = buildApp({
      bus,
      brain,
      log,
      checkWork: acceptAnyWork,
      settings: {
        roles: [...ROLES],
        workspaceDir: join(dir.path, name, "ws"),
        stateDir: join(dir.path, name, "state"),
        concurrency: 1,
        tools: defaultToolSettings({ PATH: process.env.PATH }),
        // Small limits, so a file over them is cheap to make.
        taskFiles: { maxBytes: 8 * MB, maxFileBytes: 2 * MB },
        ...own[i],
      },
    });
    replicas.push(await app.start());
  }
  return {
    bus,
    async step(taskId: string, stepId: string, role: StepWork["role"], script: { sh: string; together?: number }) {
      const work = stepWork(taskId, stepId, role, { objective: JSON.stringify(script) });
      await bus.publish(SUBJECTS.stepWork(role), StepWork, work, `${taskId}-${stepId}`);
    },
    async result(taskId: string, stepId: string): Promise<StepResult> {
      const subjects = (["step.completed", "step.failed"] as const).map((type) => SUBJECTS.event({ type, taskId, stepId }));
      let found: TaskEvent | null = null;
      await waitFor(async () => {
        for (const s of subjects) found ??= await lastEvent(bus, s);
        return found !== null;
      }, 90_000);
      const e = found as unknown as TaskEvent;
      if (e.type !== "step.completed") throw new Error(`step ${stepId}: ${JSON.stringify(e).slice(0, 600)}`);
      return e.result;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(replicas.map((r) => r.stop()));
      await bus.close();
      await nats[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** Object names under `tasks/<taskId>/.files/`. */
async function fileObjects(bus: Bus, taskId: string): Promise<string[]> {
  const store = await bus.objectStore(OBJECT_STORE);
  const names: string[] = [];
  for (const info of await store.list()) if (info.name.startsWith(`tasks/${taskId}/.files/`)) names.push(info.name);
  return names.sort();
}

const PREPARE = [
  "set -e",
  "mkdir -p data",
  "head -c 300000 /dev/urandom > data/train.csv",
  "echo stale > data/old.csv",
  "ln -s /etc/passwd data/evil",
  "mkfifo data/pipe",
  `head -c ${3 * MB} /dev/zero > data/huge.bin`,
  "sha256sum data/train.csv",
].join("\n");

const CHECK = [
  "sha256sum data/train.csv",
  'for f in data/*; do if [ -L "$f" ]; then echo "link $f"; elif [ -p "$f" ]; then echo "fifo $f"; else echo "file $f"; fi; done',
].join("\n");

describe("a task's uncommitted files travel between its steps, on any replica", () => {
  it("the ml step on replica b gets the data step's ignored files from replica a: same bytes, no link, no fifo, the big file named", async () => {
    // Replica a takes data and analysis steps, replica b ML steps: the task moves between hosts at every step.
    await using env = await setup([{ roles: ["data-engineer", "analyst"] }, { roles: ["ml-engineer"] }]);
    await env.step("tf", "prep", "data-engineer", { sh: PREPARE });
    const prep = await env.result("tf", "prep");
    const sha = /^([0-9a-f]{64}) {2}data\/train\.csv$/m.exec(prep.summary)?.[1];
    expect(sha).toBeDefined();
    // Ignored by the demo's .gitignore: nothing committed, the files travel beside the branch.
    expect(prep.git?.commits).toEqual([]);
    const warnings = (prep.warnings ?? []).join("\n");
    expect(warnings).toContain(
      "not carried to the next steps: data/huge.bin (3 MB) — over MLLEAD_TASK_FILES_MAX_FILE_MB; write such data to a shared data dir",
    );
    expect(warnings).toMatch(/data\/evil \(a symbolic link\)/);
    expect(warnings).toMatch(/data\/pipe \(not a regular file\)/);

    await env.step("tf", "train", "ml-engineer", { sh: `${CHECK}\nrm data/old.csv\necho model > data/model.pkl` });
    const train = await env.result("tf", "train");
    expect(train.summary).toContain(`${sha}  data/train.csv`);
    expect(train.summary.split("\n").filter((l) => /^(file|link|fifo) /.test(l))).toEqual([
      "file data/old.csv",
      "file data/train.csv",
    ]);

    await env.step("tf", "report", "analyst", { sh: CHECK });
    const report = await env.result("tf", "report");
    // Replica a again: the deletion stayed a deletion, the model came back from replica b, train.csv unchanged.
    expect(report.summary).toContain(`${sha}  data/train.csv`);
    expect(report.summary.split("\n").filter((l) => l.startsWith("file "))).toEqual([
      "file data/model.pkl",
      "file data/train.csv",
    ]);
    // The record names exactly the files there are, and one object each: old.csv's went with it.
    const rec = await (await TaskBranchStore.open(env.bus)).read("tf");
    expect(Object.keys(rec?.value.files ?? {}).sort()).toEqual(["data/model.pkl", "data/train.csv"]);
    expect(await fileObjects(env.bus, "tf")).toHaveLength(2);
  });

  it("two parallel steps' files both arrive at the next step, and a rewrite replaces the old object", async () => {
    await using env = await setup([{}, {}]);
    await env.step("tp", "left", "data-engineer", {
      sh: "mkdir -p data && echo left > data/left.csv && echo one > data/shared.csv",
      together: 2,
    });
    await env.step("tp", "right", "data-engineer", { sh: "mkdir -p data && echo right > data/right.csv", together: 2 });
    await env.result("tp", "left");
    await env.result("tp", "right");
    await env.step("tp", "next", "analyst", {
      sh: "cat data/left.csv data/right.csv data/shared.csv && echo two > data/shared.csv",
    });
    expect((await env.result("tp", "next")).summary).toBe("left\nright\none\n");
    await env.step("tp", "last", "analyst", { sh: "cat data/shared.csv" });
    expect((await env.result("tp", "last")).summary).toBe("two\n");
    const rec = await (await TaskBranchStore.open(env.bus)).read("tp");
    expect(Object.keys(rec?.value.files ?? {}).sort()).toEqual(["data/left.csv", "data/right.csv", "data/shared.csv"]);
    expect(rec?.value.files?.["data/shared.csv"]?.step).toBe("next-1");
    // shared.csv's first version is gone from the store; the three files there are are one object each.
    expect(await fileObjects(env.bus, "tp")).toHaveLength(3);
  });

  it("files past the task's total stay behind, named, and the rest still travel", async () => {
    const limits = { taskFiles: { maxBytes: 3 * MB, maxFileBytes: 2 * MB } };
    await using env = await setup([
      { roles: ["data-engineer"], ...limits },
      { roles: ["analyst"], ...limits },
    ]);
    const make = (name: string, kb: number) => `head -c ${kb * 1024} /dev/zero > data/${name}`;
    await env.step("tt", "prep", "data-engineer", {
      sh: ["mkdir -p data", make("a.bin", 1600), make("b.bin", 1600), make("c.bin", 500)].join(" && "),
    });
    const prep = await env.result("tt", "prep");
    expect(prep.warnings?.join("\n")).toContain(
      "not carried to the next steps: data/b.bin (2 MB) — over MLLEAD_TASK_FILES_MAX_MB; write such data to a shared data dir",
    );
    await env.step("tt", "next", "analyst", { sh: "ls data" });
    expect((await env.result("tt", "next")).summary).toBe("a.bin\nc.bin\n");
  });

  it("a carried file is never laid out through a link another step committed in its way", async () => {
    await using outside = await tempDir("mllead-outside-");
    await using env = await setup([{}, {}]);
    // In parallel: one step commits `data` as a link out of the worktree, the other leaves ignored data/x.csv.
    await env.step("tl", "link", "data-engineer", { sh: `ln -s ${outside.path} data`, together: 2 });
    await env.step("tl", "data", "data-engineer", { sh: "mkdir -p data && echo x > data/x.csv", together: 2 });
    expect((await env.result("tl", "link")).filesChanged).toEqual(["data"]);
    await env.result("tl", "data");
    await env.step("tl", "next", "analyst", { sh: "test -L data && echo still-a-link" });
    const next = await env.result("tl", "next");
    expect(next.summary).toBe("still-a-link\n");
    expect(await readdir(outside.path)).toEqual([]);
    expect((next.warnings ?? []).join("\n")).toContain(
      "files of earlier steps not laid out here: data/x.csv (a symbolic link is in the way)",
    );
  });
});

import type { StepWork } from "@mllead/contracts";
import { describe, expect, it } from "vitest";
import { createLocalTools } from "../testing/local-tools.js";
import { DEFAULT_JOBS_DIR } from "./shared.js";
import { bash, failureLine, openWorkbench, readJson, readText, tail } from "./workbench.js";

const work: StepWork = {
  v: 1,
  taskId: "t-wb",
  stepId: "data",
  attempt: 1,
  role: "data-engineer",
  step: {
    id: "data",
    role: "data-engineer",
    title: "Split the table",
    objective: "Split the table",
    context: "A table",
    requirements: [],
    acceptanceCriteria: [{ id: "ac1", text: "Runs" }],
    params: {},
    nextHandoff: { to: "tech-lead", reason: "report back" },
    dependsOn: [],
    changesCode: true,
    usesGpu: false,
  },
  task: { text: "split", requester: { userId: "U1" }, slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" } },
  upstream: [],
  findings: [],
  reviewScope: [],
  brain: "offline",
};

// The offline specialists read files and commands as data (StepTools), never the text the tools print for a model.
describe("the offline workbench", () => {
  it("reads a JSON file whole, however long its one line (the Read tool would cut it at 2,000 characters)", async () => {
    await using tools = await createLocalTools();
    const wb = openWorkbench(work, tools, { jobsDir: DEFAULT_JOBS_DIR });
    const history = Array.from({ length: 400 }, (_, epoch) => ({ epoch, train_loss: 1 / (epoch + 1) }));
    await tools.writeFile("runs/j1/history.json", JSON.stringify(history));
    expect(await readJson(wb, "runs/j1/history.json")).toEqual(history);
    expect(await readJson(wb, "runs/j1/missing.json")).toBeUndefined();
    await tools.writeFile("notes.md", "line 1\n\tline 2 with a tab\n");
    expect(await readText(wb, "notes.md")).toBe("line 1\n\tline 2 with a tab\n");
  });

  it("tells a command's output, its errors and its exit code apart without reading any status line", async () => {
    await using tools = await createLocalTools();
    const wb = openWorkbench(work, tools, { jobsDir: DEFAULT_JOBS_DIR });
    // Output that imitates the Bash tool's own closing line: it is only output.
    const run = await bash(wb, "echo '[exit code 0]'; echo 'no such table' >&2; exit 3");
    expect(run.exitCode).toBe(3);
    expect(failureLine("the pipeline crashed", run)).toBe("the pipeline crashed (exit 3): no such table");
    expect(tail(run)).toBe("[exit code 0]\nno such table");
  });
});

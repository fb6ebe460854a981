import { testStep, testStepWork } from "@mllead/contracts/testing";
import type { PythonEnvDescription } from "@mllead/sandbox";
import { describe, expect, it } from "vitest";
import type { StepTools } from "../types.js";
import { stepPrompt } from "./step-prompt.js";

const work = testStepWork(testStep("data", "data-engineer", { usesGpu: false }));

/** Only what the prompt reads of the tools: the root and the sandbox's facts. */
const toolsWith = (sandbox: StepTools["sandbox"]) => ({ root: "/w/t1", sandbox }) as unknown as StepTools;

const TEAM_VENV: PythonEnvDescription = {
  kind: "venv",
  interpreter: "/opt/venvs/team/bin/python",
  dir: "/opt/venvs/team",
  version: "3.11.2",
  packages: [
    { name: "numpy", version: "1.26.4" },
    { name: "torch", version: "2.5.1" },
  ],
  otherPackages: [{ name: "team_features", version: "0.3.0" }],
  moreOtherPackages: 12,
};

describe("stepPrompt: the Python section", () => {
  it("names the team's interpreter, its key and own packages, and that nothing can be installed without a network", () => {
    const p = stepPrompt(work, toolsWith({ kind: "bubblewrap", network: false, dataDirs: ["/data/churn"], python: TEAM_VENV }));
    expect(p).toContain(
      "## Python\nRun Python as `python` (/opt/venvs/team/bin/python, Python 3.11.2): the team's venv environment at /opt/venvs/team, first on PATH in every command. It is read-only: nothing can be installed into it.\nKey packages: numpy 1.26.4, torch 2.5.1.\nAlso installed in the environment: team_features 0.3.0 and 12 more.\nCommands have no network: pip install, conda install and downloads (datasets, model weights) fail.",
    );
    expect(p).toContain("The team's data folders (read-only): /data/churn");
  });

  it("without a team environment names the system python3; with a network, only says to check an import", () => {
    const system: PythonEnvDescription = {
      kind: "system",
      interpreter: "/usr/bin/python3",
      version: "3.11",
      packages: [],
      otherPackages: [],
      moreOtherPackages: 0,
    };
    const p = stepPrompt(work, toolsWith({ kind: "bubblewrap", network: true, dataDirs: [], python: system }));
    expect(p).toContain("Run Python as `python3` (/usr/bin/python3, Python 3.11, the system interpreter).");
    expect(p).toContain("Key packages: none of the usual ML libraries is installed.");
    expect(p).not.toContain("Commands have no network");
    expect(p).toContain("check with `python3 -c 'import name'`");
  });

  it("says nothing of Python where the tools do not know it", () => {
    expect(stepPrompt(work, toolsWith({ kind: "process", network: false, dataDirs: [] }))).not.toContain("## Python");
  });
});

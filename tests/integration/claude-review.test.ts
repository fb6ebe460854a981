import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBrain, type StepTools } from "@mllead/brain";
import { createLocalTools } from "@mllead/brain/testing";
import { REVIEW_CRITERIA, REVIEW_PITFALLS, type StepResult, type UpstreamResult } from "@mllead/contracts";
import { testStep, testStepWork } from "@mllead/contracts/testing";
import { createLogger } from "@mllead/service-kit";
import { describe, expect, it } from "vitest";
import { type Conversation, scripted, startFakeAnthropic, toolUse, turn } from "../helpers/fake-anthropic.js";

const log = createLogger("test", "silent");

/** A scaler fitted on every row, then a split: the pattern check's leakage blocker; here it is the team's own helper on already split data. */
const PREP_PY = `"""Scale features of an already split frame."""
import numpy as np


def scale(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit on the train rows the caller passes, apply to both."""
    scaler = Scaler()
    scaler.fit(train)
    return scaler.apply(train), scaler.apply(other)


class Scaler:
    """Mean/std scaler."""

    def fit(self, x: np.ndarray) -> None:
        """Learn the mean and std."""
        self.mu, self.sd = x.mean(axis=0), x.std(axis=0) + 1e-9

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Scale x."""
        return (x - self.mu) / self.sd
`;

const upstream: UpstreamResult = {
  stepId: "data",
  role: "data-engineer",
  title: "Prepare the data",
  result: {
    status: "succeeded",
    summary: "wrote pipeline/prep.py",
    artifacts: [],
    metrics: {},
    filesChanged: ["pipeline/prep.py"],
    criteria: [
      { id: "ac1", criterion: "The scaler is fitted on the train split only", met: true, evidence: "scale() fits on `train`" },
      { id: "ac2", criterion: "Unit tests pass", met: true, evidence: "pytest: 3 passed" },
    ],
  },
};

const reviewWork = () =>
  testStepWork(testStep("review", "code-reviewer", { dependsOn: ["data"] }), { reviewScope: [upstream], brain: "anthropic" });

const checks = (status: "pass" | "n/a" = "pass") =>
  REVIEW_PITFALLS.map((pitfall) => ({ pitfall, status, evidence: `${pitfall}: read pipeline/prep.py` }));
const met = REVIEW_CRITERIA.map((c) => ({ id: c.id, met: true, evidence: "see the verdict" }));

/** The first user message of the reviewer's conversation (the step prompt). */
const promptOf = (conv: Conversation) => JSON.stringify(conv.messages[0]?.content ?? "");

describe("the Claude reviewer: static checks are evidence, Claude's verdict stands", () => {
  it("approves code the pattern check flags (a .fit( before a split); the flag and the upstream criteria are in its prompt; checks are required", async () => {
    let prompt = "";
    let refused: Conversation["toolResults"][number] | undefined;
    await using api = await startFakeAnthropic(
      scripted(
        (conv) => {
          prompt = promptOf(conv);
          return turn(toolUse("Read", { file_path: "pipeline/prep.py" }));
        },
        // Without a check for every pitfall the tool refuses, and the model sends it again.
        turn(
          toolUse("FinishStep", {
            summary: "The scaler is fitted on the train rows it is given.",
            criteria: met,
            verdict: {
              decision: "approve",
              summary: "No leakage: scale() fits on train only.",
              findings: [],
              checks: checks().slice(1),
            },
          }),
        ),
        (conv) => {
          refused = conv.toolResults[0];
          return turn(
            toolUse("FinishStep", {
              summary: "The scaler is fitted on the train rows it is given.",
              criteria: met,
              verdict: {
                decision: "approve",
                summary: "No leakage: scale() fits on train only.",
                findings: [],
                checks: checks(),
              },
            }),
          );
        },
      ),
    );
    const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
    await using tools = await createLocalTools({ taskId: "t1" });
    await tools.writeFile("pipeline/prep.py", PREP_PY);
    const result: StepResult = await brain.runStep(reviewWork(), tools);

    // Claude's approval stands; the pattern check's blocker is not added to its findings.
    expect(result.verdict?.decision).toBe("approve");
    expect(result.verdict?.findings).toEqual([]);
    expect(result.verdict?.checks.map((c) => c.pitfall)).toEqual([...REVIEW_PITFALLS]);
    expect(result.status).toBe("succeeded");
    expect(refused).toMatchObject({ name: "FinishStep", isError: true });
    expect(refused?.text).toContain("missing data_leakage");
    // The prompt: the pattern check's flag as evidence only, what analysers there are, and the upstream step's
    // criteria with the evidence to audit.
    expect(prompt).toContain("Evidence from automated checks (yours to weigh; it does not decide)");
    expect(prompt).toMatch(/\[blocker\/data_leakage\] pipeline\/prep\.py:\d+ A fitted transform/);
    expect(prompt).toContain("No static analyser (pyflakes, ruff) is installed");
    expect(prompt).toContain('ac1 \\"The scaler is fitted on the train split only\\" — met: scale() fits on `train`');
    expect(prompt).toContain('ac2 \\"Unit tests pass\\" — met: pytest: 3 passed');
    expect(prompt).toContain("Audit each criterion against its evidence");
    expect(prompt).toContain("exactly one per pitfall");
  });

  it("hands over a real analyser's output where the sandbox has one (ruff, JSON read into lines)", async () => {
    const bin = await mkdtemp(join(tmpdir(), "mllead-ruff-"));
    try {
      // A stand-in ruff on PATH, as a team's environment would have one.
      await writeFile(
        join(bin, "ruff"),
        `#!/bin/sh
if [ "$1" = "--version" ]; then echo "ruff 0.9.0"; exit 0; fi
printf '[{"code":"F401","message":"\`os\` imported but unused","filename":"%s/pipeline/prep.py","location":{"row":2,"column":1}}]' "$PWD"
`,
      );
      await chmod(join(bin, "ruff"), 0o755);
      let prompt = "";
      await using api = await startFakeAnthropic(
        scripted((conv) => {
          prompt = promptOf(conv);
          return turn(
            toolUse("FinishStep", {
              summary: "One unused import.",
              criteria: met,
              verdict: {
                decision: "approve",
                summary: "Fine apart from an unused import.",
                findings: [{ severity: "nit", category: "other", file: "pipeline/prep.py", line: 2, message: "unused import" }],
                checks: checks(),
              },
            }),
          );
        }),
      );
      const brain = await createBrain({ kind: "anthropic", log, anthropic: { apiKey: api.apiKey, baseURL: api.url } });
      await using local = await createLocalTools({ taskId: "t1" });
      await mkdir(join(local.workspace, "pipeline"), { recursive: true });
      await local.writeFile("pipeline/prep.py", `import os\n${PREP_PY}`);
      const tools: StepTools = Object.assign(Object.create(local) as StepTools, {
        run: (argv: string[], opts?: Parameters<StepTools["run"]>[1]) =>
          local.run(argv, { ...opts, env: { ...opts?.env, PATH: `${bin}:${process.env.PATH}` } }),
      });
      const result = await brain.runStep(reviewWork(), tools);
      expect(result.verdict?.decision).toBe("approve");
      expect(prompt).toContain("### ruff");
      expect(prompt).toContain("- pipeline/prep.py:2 F401 `os` imported but unused");
      expect(prompt).not.toContain("No static analyser");
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });
});

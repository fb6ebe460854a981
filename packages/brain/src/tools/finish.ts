import { type Artifact, type CriterionResult, missingPitfalls, type StepResult, type StepWork, Verdict } from "@mllead/contracts";
import { ToolInputError } from "../errors.js";
import type { StepTools } from "../types.js";
import { workspacePath } from "./paths.js";
import type { FinishStepInput, ReviewerFinishStepInput } from "./schemas.js";

/**
 * Checks a `FinishStep` call against the step: one answer for every acceptance
 * criterion id, none for ids the step does not have. Throws a ToolInputError the
 * model can act on; a criterion answered `met: false` is allowed (the step then fails).
 */
function checkFinish(work: StepWork, input: FinishStepInput | ReviewerFinishStepInput): CriterionResult[] {
  const known = new Map(work.step.acceptanceCriteria.map((c) => [c.id, c.text]));
  const unknown = input.criteria.filter((c) => !known.has(c.id)).map((c) => c.id);
  if (unknown.length) {
    throw new ToolInputError(
      `unknown acceptance criterion id(s): ${unknown.join(", ")}; the step's ids are ${[...known.keys()].join(", ")}`,
    );
  }
  const answered = new Set(input.criteria.map((c) => c.id));
  const missing = [...known.keys()].filter((id) => !answered.has(id));
  if (missing.length) {
    throw new ToolInputError(`answer every acceptance criterion: missing ${missing.join(", ")} (met true/false with evidence)`);
  }
  if (work.role === "code-reviewer") {
    if (!("verdict" in input)) {
      throw new ToolInputError("the code reviewer's FinishStep needs a verdict (decision, summary, findings, checks)");
    }
    const checks = input.verdict.checks;
    const missing = missingPitfalls(checks);
    const twice = checks.filter((c, i) => checks.findIndex((o) => o.pitfall === c.pitfall) !== i).map((c) => c.pitfall);
    if (missing.length > 0 || twice.length > 0) {
      throw new ToolInputError(
        `verdict.checks needs exactly one check per pitfall (status pass, fail or n/a, with evidence):${missing.length ? ` missing ${missing.join(", ")};` : ""}${twice.length ? ` repeated ${twice.join(", ")};` : ""} send FinishStep again with all seven`,
      );
    }
  }
  return work.step.acceptanceCriteria.map(({ id, text }) => {
    const a = input.criteria.find((c) => c.id === id) as FinishStepInput["criteria"][number];
    return { id, criterion: text.slice(0, 1000), met: a.met, evidence: a.evidence.slice(0, 1000) };
  });
}

/** The step's result from a checked `FinishStep`: artifacts saved, criteria in the step's order. */
export async function finishStep(
  work: StepWork,
  tools: StepTools,
  input: FinishStepInput | ReviewerFinishStepInput,
  extra: Partial<Pick<StepResult, "jobId" | "usage" | "warnings">> = {},
): Promise<StepResult> {
  const criteria = checkFinish(work, input);
  const artifacts: Artifact[] = [];
  for (const path of input.artifacts ?? []) {
    artifacts.push(await tools.saveArtifact(workspacePath(tools.root, path)));
  }
  const verdict = "verdict" in input ? Verdict.parse(input.verdict) : undefined;
  return {
    // A review that gave its verdict ran: its unmet criteria and findings go to a fix round, not a failed step.
    status: verdict || criteria.every((c) => c.met) ? "succeeded" : "failed",
    summary: input.summary,
    artifacts,
    metrics: input.metrics ?? {},
    filesChanged: [],
    criteria,
    ...(verdict ? { verdict } : {}),
    ...extra,
  };
}

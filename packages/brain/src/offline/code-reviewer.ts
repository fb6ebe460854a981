import type { Finding, StepResult, StepWork, Verdict } from "@mllead/contracts";
import { changedPython } from "../review-scope.js";
import type { StepTools } from "../types.js";
import { reviewFiles } from "./review-checks.js";
import type { OfflineContext } from "./shared.js";
import { answerCriteria, finish, type Judgement, openWorkbench } from "./workbench.js";

/**
 * What the offline reviewer can audit of the upstream steps: that each of their criteria was answered met
 * with evidence. (Whether the evidence is true needs a reader: Claude's reviewer audits it.)
 */
function auditUpstream(work: StepWork): Judgement {
  const answers = work.reviewScope.flatMap((u) => u.result.criteria.map((c) => ({ step: u.stepId, c })));
  const bare = answers.filter(({ c }) => !c.met || c.evidence.trim() === "");
  return {
    met: bare.length === 0,
    evidence:
      bare.length === 0
        ? `${answers.length} criteria of ${work.reviewScope.length} step(s), each met with evidence`
        : `without evidence: ${bare.map(({ step, c }) => `${step}/${c.id}`).join(", ")}`,
  };
}

/**
 * The offline code reviewer: reviews the task's change (the diff since the
 * base commit when the workspace is a git worktree, else the files the steps
 * report) with the static pitfall checks, one check per category, and
 * returns the verdict through FinishStep. Writes nothing.
 */
export async function runCodeReviewer(work: StepWork, tools: StepTools, ctx: OfflineContext): Promise<StepResult> {
  const wb = openWorkbench(work, tools, ctx);
  const scope = await changedPython(work, tools);
  await tools.progress(`Offline code review (static checks): ${scope.files.length} changed Python file(s) from ${scope.source}`);
  const verdict: Verdict = reviewFiles(scope.files);
  if (scope.unreadable.length > 0) {
    verdict.findings.push({
      severity: "major",
      category: "other",
      message: `Could not read ${scope.unreadable.join(", ")} for review; changed code must be reviewable.`,
    });
    verdict.decision = "request_changes";
    verdict.summary = `${verdict.summary} ${scope.unreadable.length} changed file(s) could not be read.`;
  }
  verdict.summary = `Offline static review: ${verdict.summary}`.slice(0, 2000);

  const count = (s: Finding["severity"]) => verdict.findings.filter((f) => f.severity === s).length;
  const unowned = verdict.findings.filter((f) => f.ownerStepId === undefined && !(f.category === "other" && !f.file));
  const blocking = count("blocker") + count("major");
  const audit = auditUpstream(work);
  const criteria = answerCriteria(wb, "code-reviewer", (key) => {
    switch (key) {
      case "verdict":
        return {
          met: (verdict.decision === "request_changes") === blocking > 0,
          evidence: `${count("blocker")} blocker, ${count("major")} major → ${verdict.decision}`,
        };
      case "checks":
        return {
          met: verdict.checks.length === 7,
          evidence: verdict.checks.map((c) => `${c.pitfall} ${c.status}`).join(", ") || "no checks",
        };
      case "findingsNamed":
        return {
          met: unowned.length === 0,
          evidence:
            unowned.length === 0
              ? `${verdict.findings.length} finding(s), each with its file, severity, category and owning step`
              : `no owning step found for ${unowned.map((f) => f.file ?? f.category).join(", ")}`,
        };
      case "audit":
        return audit;
      default: {
        const never: never = key;
        throw new Error(`unknown check ${String(never)}`);
      }
    }
  });
  const result = await finish(wb, {
    summary: verdict.summary,
    criteria,
    metrics: { files_reviewed: scope.files.length, blockers: count("blocker"), majors: count("major"), minors: count("minor") },
    verdict: { decision: verdict.decision, summary: verdict.summary, findings: verdict.findings, checks: verdict.checks },
  });
  return { ...result, filesChanged: [] };
}

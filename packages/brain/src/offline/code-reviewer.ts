import type { Artifact, StepResult, StepWork } from "@mllead/contracts";
import type { StepTools } from "../types.js";
import { type ReviewedFile, reviewFiles } from "./review-checks.js";
import { judgeCriteria } from "./shared.js";

/** The offline code reviewer: fetches every changed Python file in scope and runs the static pitfall checks. */
export async function runCodeReviewer(work: StepWork, tools: StepTools): Promise<StepResult> {
  const files: ReviewedFile[] = [];
  const unreadable: string[] = [];
  for (const u of work.reviewScope) {
    const code = new Set(u.result.filesChanged.filter((f) => f.endsWith(".py")));
    for (const a of u.result.artifacts) if (a.name.endsWith(".py")) code.add(a.name);
    for (const path of [...code].sort()) {
      const artifact = u.result.artifacts.find(
        (a) => a.name === path || a.name.endsWith(`/${path}`) || path.endsWith(`/${a.name}`),
      );
      const local = `review/${u.stepId}/${path}`;
      try {
        if (artifact) await tools.fetchArtifact(artifact, local);
        const source = await tools.readFile(artifact ? local : path);
        files.push({ file: path, source, ownerStepId: u.stepId });
      } catch {
        unreadable.push(`${path} (${u.stepId})`);
      }
    }
  }
  await tools.progress(
    `Reviewing ${files.length} file(s) from ${work.reviewScope.map((u) => u.stepId).join(", ") || "no steps"}`,
  );
  const verdict = reviewFiles(files);
  if (unreadable.length > 0) {
    verdict.findings.push({
      severity: "major",
      category: "other",
      message: `Could not read ${unreadable.join(", ")} for review; changed code must be reviewable.`,
    });
    verdict.decision = "request_changes";
    verdict.summary = `${verdict.summary} ${unreadable.length} changed file(s) could not be read.`.slice(0, 2000);
  }

  const md = [
    `# Code review (offline static checks): ${verdict.decision}`,
    "",
    verdict.summary,
    "",
    ...verdict.checks.map((c) => `- ${c.passed ? "✅" : "❌"} ${c.category}: ${c.detail}`),
    "",
    ...verdict.findings.map(
      (f) =>
        `- **${f.severity}** ${f.category} ${f.file ?? ""}${f.line ? `:${f.line}` : ""} (${f.ownerStepId ?? "?"}): ${f.message}`,
    ),
  ].join("\n");
  await tools.writeFile("review/verdict.md", `${md}\n`);
  const artifacts: Artifact[] = [await tools.saveArtifact("review/verdict.md", { contentType: "text/markdown" })];

  const count = (s: string) => verdict.findings.filter((f) => f.severity === s).length;
  const criteria = judgeCriteria(work.step.acceptanceCriteria, (c) => {
    if (/structured verdict/i.test(c)) return { met: true, evidence: `${verdict.decision} with ${verdict.checks.length} checks` };
    if (/names its file|owns the code/i.test(c)) {
      const named = verdict.findings.every((f) => f.ownerStepId !== undefined || f.category === "other");
      return { met: named, evidence: `${verdict.findings.length} finding(s), each with its owning step` };
    }
    if (/request_changes only/i.test(c))
      return { met: true, evidence: `${count("blocker")} blocker, ${count("major")} major → ${verdict.decision}` };
    return undefined;
  });
  return {
    status: "succeeded",
    summary: verdict.summary,
    artifacts,
    metrics: { files_reviewed: files.length, blockers: count("blocker"), majors: count("major"), minors: count("minor") },
    filesChanged: [],
    criteria,
    verdict,
  };
}

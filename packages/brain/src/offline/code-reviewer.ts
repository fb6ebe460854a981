import type { Finding, StepResult, StepWork, UpstreamResult, Verdict } from "@mllead/contracts";
import type { StepTools } from "../types.js";
import { type ReviewedFile, reviewFiles } from "./review-checks.js";
import type { OfflineContext } from "./shared.js";
import { answerCriteria, bash, finish, openWorkbench, readText, sh, type Workbench } from "./workbench.js";

/** The changed Python files to review, each with the step that owns it, and those that could not be read. */
interface Scope {
  files: ReviewedFile[];
  unreadable: string[];
  /** Where the list of changed files came from, for the summary. */
  source: string;
}

async function readInto(wb: Workbench, scope: Scope, path: string, ownerStepId: string | undefined): Promise<void> {
  try {
    scope.files.push({ file: path, source: await readText(wb, path), ...(ownerStepId ? { ownerStepId } : {}) });
  } catch {
    scope.unreadable.push(ownerStepId ? `${path} (${ownerStepId})` : path);
  }
}

/**
 * The step in review scope that owns a changed file: the one whose
 * `filesChanged` lists it, else the one whose commit last touched it (by
 * `git log` since the task's base commit).
 */
async function ownerOf(wb: Workbench, path: string, base: string): Promise<string | undefined> {
  const scope: readonly UpstreamResult[] = wb.work.reviewScope;
  const listed = [...scope].reverse().find((u) => u.result.filesChanged.includes(path));
  if (listed) return listed.stepId;
  const log = await bash(wb, `git log --format=%H ${sh(`${base}..HEAD`)} -- ${sh(path)}`, 30);
  if (log.exitCode !== 0) return undefined;
  for (const sha of log.output
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)) {
    const owner = scope.find((u) => u.result.git?.commits.some((c) => sha.startsWith(c.sha) || c.sha.startsWith(sha)));
    if (owner) return owner.stepId;
  }
  return undefined;
}

/** The task's changed .py files since its base commit, read from the worktree. */
async function fromRepo(wb: Workbench, tools: StepTools): Promise<Scope> {
  const repo = tools.repo;
  if (!repo) throw new Error("no repository");
  const diff = await repo.diff();
  const scope: Scope = { files: [], unreadable: [], source: `the diff since ${repo.baseCommit.slice(0, 10)} on ${repo.branch}` };
  for (const f of diff.files) {
    if (f.status === "D" || !f.path.endsWith(".py")) continue;
    await readInto(wb, scope, f.path, await ownerOf(wb, f.path, repo.baseCommit));
  }
  return scope;
}

/** Without a repository: the .py files the steps in review scope say they changed, read from the workspace. */
async function fromResults(wb: Workbench): Promise<Scope> {
  const scope: Scope = { files: [], unreadable: [], source: "the files the reviewed steps report as changed" };
  for (const u of wb.work.reviewScope) {
    for (const path of [...new Set(u.result.filesChanged.filter((f) => f.endsWith(".py")))].sort()) {
      await readInto(wb, scope, path, u.stepId);
    }
  }
  return scope;
}

/**
 * The offline code reviewer: reviews the task's change (the diff since the
 * base commit when the workspace is a git worktree, else the files the steps
 * report) with the static pitfall checks, one check per category, and
 * returns the verdict through FinishStep. Writes nothing.
 */
export async function runCodeReviewer(work: StepWork, tools: StepTools, ctx: OfflineContext): Promise<StepResult> {
  const wb = openWorkbench(work, tools, ctx);
  const scope = tools.repo ? await fromRepo(wb, tools) : await fromResults(wb);
  // Under the Claude brain these checks are the evidence beside Claude's own review, not an offline reviewer.
  const label = work.brain === "offline" ? "Offline code review (static checks)" : "Static checks for the code review";
  await tools.progress(`${label}: ${scope.files.length} changed Python file(s) from ${scope.source}`);
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
  verdict.summary = `${work.brain === "offline" ? "Offline static review" : "Static checks"}: ${verdict.summary}`.slice(0, 2000);

  const count = (s: Finding["severity"]) => verdict.findings.filter((f) => f.severity === s).length;
  const unowned = verdict.findings.filter((f) => f.ownerStepId === undefined && !(f.category === "other" && !f.file));
  const blocking = count("blocker") + count("major");
  const criteria = answerCriteria(wb, "code-reviewer", (key) => {
    switch (key) {
      case "verdict":
        return {
          met: verdict.checks.length > 0,
          evidence: `${verdict.decision} with ${verdict.checks.length} checks: ${verdict.checks.map((c) => `${c.category} ${c.passed ? "passed" : "failed"}`).join(", ")}`,
        };
      case "findingsNamed":
        return {
          met: unowned.length === 0,
          evidence:
            unowned.length === 0
              ? `${verdict.findings.length} finding(s), each with its file, severity, category and owning step`
              : `no owning step found for ${unowned.map((f) => f.file ?? f.category).join(", ")}`,
        };
      case "decision":
        return {
          met: (verdict.decision === "request_changes") === blocking > 0,
          evidence: `${count("blocker")} blocker, ${count("major")} major → ${verdict.decision}`,
        };
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
    verdict: { decision: verdict.decision, summary: verdict.summary, findings: verdict.findings },
  });
  // FinishStep's verdict has no checks (a model gives findings); the static checks are the offline verdict's checks.
  return { ...result, filesChanged: [], ...(result.verdict ? { verdict: { ...result.verdict, checks: verdict.checks } } : {}) };
}

import type { StepWork, UpstreamResult } from "@mllead/contracts";
import type { ReviewedFile } from "./offline/review-checks.js";
import type { StepTools } from "./types.js";

/** The changed Python files a review reads, each with the step that owns it, and those that could not be read. */
interface ReviewScope {
  files: ReviewedFile[];
  unreadable: string[];
  /** Where the list of changed files came from, for the summary. */
  source: string;
}

async function readInto(tools: StepTools, scope: ReviewScope, path: string, ownerStepId: string | undefined): Promise<void> {
  try {
    scope.files.push({ file: path, source: await tools.readFile(path), ...(ownerStepId ? { ownerStepId } : {}) });
  } catch (err) {
    // The review says so (a finding offline, a line of evidence for Claude); the log keeps why.
    tools.log.warn({ err, path }, "review: a changed file could not be read");
    scope.unreadable.push(ownerStepId ? `${path} (${ownerStepId})` : path);
  }
}

/**
 * The step in review scope that owns a changed file: the one whose `filesChanged` lists it, else the one
 * whose commit last touched it (`git log` since the task's base commit, run in the workspace).
 */
async function ownerOf(
  tools: StepTools,
  scope: readonly UpstreamResult[],
  path: string,
  base: string,
): Promise<string | undefined> {
  const listed = [...scope].reverse().find((u) => u.result.filesChanged.includes(path));
  if (listed) return listed.stepId;
  const log = await tools.run(["git", "log", "--format=%H", `${base}..HEAD`, "--", path], { timeoutSec: 30 });
  if (log.exitCode !== 0) return undefined;
  for (const sha of log.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)) {
    const owner = scope.find((u) => u.result.git?.commits.some((c) => sha.startsWith(c.sha) || c.sha.startsWith(sha)));
    if (owner) return owner.stepId;
  }
  return undefined;
}

/**
 * The task's changed `.py` files: from the diff since the base commit when the workspace is a git worktree,
 * else the files the steps in review scope say they changed. Read through `StepTools` (no tool text parsed).
 */
export async function changedPython(work: StepWork, tools: StepTools): Promise<ReviewScope> {
  const repo = tools.repo;
  if (!repo) {
    const scope: ReviewScope = { files: [], unreadable: [], source: "the files the reviewed steps report as changed" };
    for (const u of work.reviewScope) {
      for (const path of [...new Set(u.result.filesChanged.filter((f) => f.endsWith(".py")))].sort()) {
        await readInto(tools, scope, path, u.stepId);
      }
    }
    return scope;
  }
  const diff = await repo.diff();
  const scope: ReviewScope = {
    files: [],
    unreadable: [],
    source: `the diff since ${repo.baseCommit.slice(0, 10)} on ${repo.branch}`,
  };
  for (const f of diff.files) {
    if (f.status === "D" || !f.path.endsWith(".py")) continue;
    await readInto(tools, scope, f.path, await ownerOf(tools, work.reviewScope, f.path, repo.baseCommit));
  }
  return scope;
}

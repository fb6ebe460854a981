import type { StepWork } from "@mllead/contracts";
import type { ToolName } from "../tools/index.js";
import type { RepoDiff, StepTools } from "../types.js";

const MAX_DIFF_CHARS = 60_000;

/** Rules every specialist follows in mllead, after the agent file's own prompt. */
export function workingRules(tools: readonly ToolName[]): string {
  return [
    "## Working in mllead",
    "You carry out one step of a plan that the team's tech lead wrote and a person approved. Do exactly that step, in the team's repository.",
    `Your tools: ${tools.join(", ")}. Paths are absolute under the working directory, or relative to it.`,
    "Files you create or change are committed for you when the step ends (one commit per step, on the task's branch). The repository's git metadata is read-only to you: git status, log, diff and show work; commit, checkout, stash, reset and push do not, and are not needed.",
    "Commands run in a sandbox that sees only the working directory (read-write) and the team's data folders (read-only), with none of the service's credentials.",
    tools.includes("SubmitGpuJob")
      ? "Training and long evaluation runs go to the GPU hosts through SubmitGpuJob, not Bash; the job writes its outputs, and metrics.json (a flat object of numbers), into $MLLEAD_ARTIFACTS_DIR."
      : "",
    "Never mark a step done without proving it: run the code and its tests, read the numbers, and give for each acceptance criterion the evidence (command and output, file, metric).",
    "Finish with FinishStep, called alone: one entry per acceptance criterion id, met true or false. If a criterion cannot be met, say so honestly with met=false and why; the tech lead will re-plan.",
  ]
    .filter(Boolean)
    .join("\n");
}

function handoff(work: StepWork): string[] {
  const s = work.step;
  const params = Object.keys(s.params).length ? ["### Parameters", "```json", JSON.stringify(s.params, null, 1), "```"] : [];
  return [
    `## Task: ${s.title}`,
    "### Objective",
    s.objective,
    "### Context",
    s.context || "(none given)",
    "### Specific Requirements",
    ...s.requirements.map((r) => `- ${r}`),
    "### Acceptance Criteria",
    ...s.acceptanceCriteria.map((c) => `- [ ] ${c.id}: ${c.text}`),
    ...params,
    "### Next Handoff",
    `After completion, hand off to: ${s.nextHandoff.to} for ${s.nextHandoff.reason}`,
  ];
}

function upstream(work: StepWork): string[] {
  if (work.upstream.length === 0) return [];
  return [
    "## What the steps before this one produced",
    ...work.upstream.map((u) => {
      const r = u.result;
      const metrics = Object.entries(r.metrics)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ");
      const files = r.filesChanged.length ? ` Files: ${r.filesChanged.slice(0, 20).join(", ")}.` : "";
      const commits = r.git?.commits.length ? ` Commits: ${r.git.commits.map((c) => c.sha.slice(0, 10)).join(", ")}.` : "";
      return `- ${u.stepId} (${u.role}, "${u.title}"): ${r.summary}${metrics ? ` Metrics: ${metrics}.` : ""}${files}${commits}`;
    }),
  ];
}

function findings(work: StepWork): string[] {
  if (work.findings.length === 0) return [];
  const list = work.findings.map(
    (f) =>
      `- [${f.severity}/${f.category}] ${f.file ?? ""}${f.line ? `:${f.line}` : ""} ${f.message}${f.ownerStepId ? ` (step ${f.ownerStepId})` : ""}`,
  );
  if (work.role === "code-reviewer") {
    return [
      "## Your previous review's findings",
      ...list,
      "The steps that own them ran a fix round; their commits are listed with the steps above. Check each finding against what actually changed in the diff: a finding whose code did not change is not fixed, whatever a summary says.",
    ];
  }
  return [
    "## The code reviewer's findings this attempt must fix",
    ...list,
    "Fix each one in the code, then say in the summary what you changed for each; only changed files count.",
  ];
}

function workspace(tools: StepTools): string[] {
  const lines = ["## Your workspace", `Working directory: ${tools.root}`];
  if (tools.repo)
    lines.push(
      `A git worktree of the team's repository on branch ${tools.repo.branch}, based on commit ${tools.repo.baseCommit}.`,
    );
  const sb = tools.sandbox;
  if (sb) {
    if (sb.dataDirs.length) lines.push(`The team's data folders (read-only): ${sb.dataDirs.join(", ")}`);
    lines.push(`Network from commands: ${sb.network ? "allowed" : "none"}.`);
  }
  return lines;
}

function reviewDiff(diff: RepoDiff | undefined): string[] {
  if (!diff) return [];
  const body = diff.diff.length > MAX_DIFF_CHARS ? `${diff.diff.slice(0, MAX_DIFF_CHARS)}\n… [diff cut]` : diff.diff;
  return [
    "## The change under review (from the task's base commit)",
    ...diff.files.map((f) => `- ${f.status} ${f.path}`),
    "```diff",
    body || "(no changes)",
    "```",
    diff.truncated ? "The diff was cut; Read the files for the rest." : "",
  ];
}

/** The first user message of a step's conversation: the handoff and everything the specialist needs. */
export function stepPrompt(
  work: StepWork,
  tools: StepTools,
  extra: { diff?: RepoDiff; automatedChecks?: string[] } = {},
): string {
  return [
    `You are the ${work.role} on task ${work.taskId}. The request from <@${work.task.requester.userId}> in Slack:`,
    `> ${work.task.text.replace(/\n/g, "\n> ")}`,
    "",
    ...handoff(work),
    "",
    ...upstream(work),
    ...findings(work),
    ...(work.role === "code-reviewer"
      ? [
          "## Steps under review",
          ...work.reviewScope.map((r) => `- ${r.stepId} (${r.role}): ${r.result.summary}`),
          "Set ownerStepId on each finding to the step that owns the code. Request changes only for a blocker or major finding.",
        ]
      : []),
    ...reviewDiff(extra.diff),
    ...(extra.automatedChecks?.length ? ["## Automated checks", ...extra.automatedChecks] : []),
    "",
    ...workspace(tools),
  ]
    .filter((l) => l !== "")
    .join("\n");
}

import { REVIEW_PITFALLS, type StepWork } from "@mllead/contracts";
import type { ToolName } from "../tools/toolbox.js";
import type { RepoDiff, StepTools } from "../types.js";
import { blockQuote } from "./quote.js";

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
    `After completion, hand off to: ${s.nextHandoff.to} (${s.nextHandoff.reason})`,
  ];
}

/** What the tracks mean for a step (the seed's speed-versus-correctness rule). */
const TRACK_MEANING = {
  experiment: "an experiment: bias to speed — one well-configured run, quick checks, results fast, then iterate",
  production:
    "production: bias to correctness — tests for every changed module, validated data, no regression against what it replaces",
} as const;

/** The plan around the step: its summary and track, what it assumes, its risks and the lessons it follows. */
export function briefLines(work: StepWork): string[] {
  const b = work.brief;
  if (!b) return [];
  return [
    "## The plan this step belongs to",
    b.summary,
    `Track: ${TRACK_MEANING[b.track]}.`,
    ...(b.assumptions.length ? ["### Assumptions (the plan takes these as given)", ...b.assumptions.map((a) => `- ${a}`)] : []),
    ...(b.risks.length
      ? [
          "### Risks and their mitigations (apply those that touch your step)",
          ...b.risks.map((r) => `- ${r.risk} → ${r.mitigation}`),
        ]
      : []),
    ...(b.lessons.length
      ? ["### Lessons this team recorded (follow them)", ...b.lessons.map((l) => `- ${l.id}: ${l.text}`)]
      : []),
  ];
}

/** A step loop's limits, said up front so the model plans its work within them (see StepLoopLimits). */
export function limitsLines(limits: { maxIterations: number; tokenBudget: number; timeLimitMs: number }): string[] {
  const hours = limits.timeLimitMs / 3_600_000;
  const time = hours >= 1 ? `${Number(hours.toFixed(1))} h` : `${Math.round(limits.timeLimitMs / 60_000)} min`;
  return [
    "## Your limits",
    `This step may make at most ${limits.maxIterations} model requests and use ${limits.tokenBudget.toLocaleString("en-US")} tokens (input, output and cache together), within ${time} of wall-clock time counted from its start (GPU jobs included). Past any of them the step fails: read files in parts, keep command output short, and call FinishStep before the end.`,
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

/**
 * The reviewer's audit: every step under review with its acceptance criteria and the evidence it gave, and
 * what the review answers (findings and one check per pitfall; a problem found is a finding, never an unmet
 * criterion of the review).
 */
function reviewScope(work: StepWork): string[] {
  const steps = work.reviewScope.flatMap((r) => {
    const res = r.result;
    const files = res.filesChanged.length ? ` Files: ${res.filesChanged.slice(0, 20).join(", ")}.` : "";
    return [
      `### ${r.stepId} (${r.role}, "${r.title}")`,
      `${res.summary}${files}`,
      ...(res.criteria.length
        ? res.criteria.map(
            (c) => `- ${c.id} "${c.criterion.slice(0, 300)}" — ${c.met ? "met" : "NOT met"}: ${c.evidence.slice(0, 600)}`,
          )
        : ["- (no acceptance criteria answered)"]),
    ];
  });
  return [
    "## Steps under review: their acceptance criteria and the evidence they gave",
    ...steps,
    "Audit each criterion against its evidence, the diff and what you can run: a claim the change does not support is a finding on that step.",
    "Your own acceptance criteria are about the review itself. A problem you find (leakage, a missing seed, an unsupported claim) is a finding with ownerStepId set to the step that owns the code; the tech lead sends the findings back to those steps in a fix round. Do not answer a criterion met=false because the code has a problem.",
    `FinishStep's verdict: decision (request_changes only for a blocker or major finding), summary, findings, and checks — exactly one per pitfall (${REVIEW_PITFALLS.join(", ")}), status pass, fail or n/a, each with its evidence.`,
  ];
}

const pkgList = (ps: readonly { name: string; version: string }[]) => ps.map((p) => `${p.name} ${p.version}`).join(", ");

/** The Python commands run and what the sandbox allows: the model learns it here, not by failing. */
function pythonFacts(tools: StepTools): string[] {
  const sb = tools.sandbox;
  const py = sb?.python;
  if (!sb || !py) return [];
  const version = py.version ? `, Python ${py.version}` : "";
  // Debian and most images have no `python` outside an environment.
  const cmd = py.kind === "system" ? "python3" : "python";
  const lines = ["## Python"];
  if (py.kind === "system") lines.push(`Run Python as \`python3\` (${py.interpreter}${version}, the system interpreter).`);
  else
    lines.push(
      `Run Python as \`python\` (${py.interpreter}${version}): the team's ${py.kind} environment at ${py.dir}, first on PATH in every command. It is read-only: nothing can be installed into it.`,
    );
  lines.push(
    py.packages.length ? `Key packages: ${pkgList(py.packages)}.` : "Key packages: none of the usual ML libraries is installed.",
  );
  if (py.otherPackages.length)
    lines.push(
      `Also installed in the environment: ${pkgList(py.otherPackages)}${py.moreOtherPackages ? ` and ${py.moreOtherPackages} more` : ""}.`,
    );
  lines.push(
    sb.network
      ? `A library not listed may be missing: check with \`${cmd} -c 'import name'\` before you build on it.`
      : "Commands have no network: pip install, conda install and downloads (datasets, model weights) fail. Use what is installed; when the step needs a library that is missing, say so in FinishStep instead of working around it.",
  );
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
  extra: { diff?: RepoDiff; evidence?: readonly string[] } = {},
): string {
  return [
    `You are the ${work.role} on task ${work.taskId}. The request from <@${work.task.requester.userId}> in Slack:`,
    blockQuote(work.task.text),
    "",
    ...handoff(work),
    "",
    ...briefLines(work),
    ...upstream(work),
    ...findings(work),
    ...(work.role === "code-reviewer" ? reviewScope(work) : []),
    ...reviewDiff(extra.diff),
    ...(extra.evidence ?? []),
    "",
    ...workspace(tools),
    ...pythonFacts(tools),
  ]
    .filter((l) => l !== "")
    .join("\n");
}

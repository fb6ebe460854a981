import type { Role, StepResult, StepWork } from "@mllead/contracts";
import { finishStep } from "../tools/finish.js";
import { type SubmittedJob, submitGpuJobTool } from "../tools/gpu-job.js";
import type { FinishStepInput, ReviewerFinishStepInput, SubmitGpuJobInput } from "../tools/schemas.js";
import { toolSpec } from "../tools/toolbox.js";
import type { CommandResult, StepTools } from "../types.js";
import { CANNOT_CHECK, type CheckKey, identifyCriteria } from "./criteria.js";
import { SYNTHETIC_METRICS_WARNING } from "./demo-data.js";
import type { OfflineContext } from "./shared.js";

/** A criterion's answer: met or not, with what shows it. */
export interface Judgement {
  met: boolean;
  evidence: string;
}

/**
 * What an offline specialist works with: the step's tools (`StepTools`, called
 * directly: every answer is structured data, never the text the tools print for
 * a model), the step, and the shipped scripts. `written` collects the files the
 * step wrote, for `filesChanged`; `jobIds` the GPU jobs it ran, in order.
 */
export interface Workbench {
  work: StepWork;
  tools: StepTools;
  ctx: OfflineContext;
  written: string[];
  jobIds: string[];
}

export function openWorkbench(work: StepWork, tools: StepTools, ctx: OfflineContext): Workbench {
  return { work, tools, ctx, written: [], jobIds: [] };
}

/** Quotes one word for bash. */
export function sh(word: string | number): string {
  const s = String(word);
  return /^[\w./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs argv (no shell) in the step's sandbox, in the workspace (timeout in seconds). */
export function run(wb: Workbench, argv: string[], timeoutSec = 120): Promise<CommandResult> {
  return wb.tools.run(argv, { timeoutSec });
}

/** Runs a bash command in the step's sandbox, in the workspace (timeout in seconds). */
export function bash(wb: Workbench, command: string, timeoutSec = 120): Promise<CommandResult> {
  return run(wb, ["bash", "-c", command], timeoutSec);
}

/** What a command printed, for a person: its output, then its errors. */
function outputOf(result: CommandResult): string {
  return [result.stdout.trimEnd(), result.stderr.trimEnd()].filter(Boolean).join("\n");
}

/** The last lines of a command's output, for a summary or evidence. */
export function tail(result: CommandResult, lines = 6): string {
  return outputOf(result).trim().split("\n").slice(-lines).join("\n");
}

/**
 * Whether a workspace file exists: `test -f` in the sandbox, not a listing,
 * which stops at a workspace's first files and would miss one in a large
 * repository (and the step would then write over it).
 */
export async function exists(wb: Workbench, path: string): Promise<boolean> {
  return (await run(wb, ["bash", "-c", 'test -f "$1"', "exists", path], 30)).exitCode === 0;
}

/** A workspace file's text (at most the port's 1 MiB). */
export function readText(wb: Workbench, path: string): Promise<string> {
  return wb.tools.readFile(path);
}

/** A workspace JSON file, or undefined when it is missing or not JSON (the log says why). */
export async function readJson<T>(wb: Workbench, path: string): Promise<T | undefined> {
  if (!(await exists(wb, path))) return undefined;
  try {
    return JSON.parse(await readText(wb, path)) as T;
  } catch (err) {
    // The caller reports the missing numbers as unmet evidence; the log keeps why.
    wb.tools.log.warn({ err, path }, "offline specialist: a JSON file could not be read");
    return undefined;
  }
}

/** Writes a workspace file and records it as changed by this step; the reviewer writes nothing. */
export async function write(wb: Workbench, path: string, content: string): Promise<void> {
  if (wb.work.role === "code-reviewer") throw new Error(`the offline code reviewer may not write ${path}`);
  await wb.tools.writeFile(path, content);
  if (!wb.written.includes(path)) wb.written.push(path);
}

/** Runs a GPU job as `SubmitGpuJob` does (its small artifacts copied back under `runs/<jobId>/`) and records it. */
export async function submitJob(wb: Workbench, input: SubmitGpuJobInput): Promise<SubmittedJob> {
  const job = await submitGpuJobTool(wb.tools, toolSpec("SubmitGpuJob", wb.work.role).input.parse(input) as SubmitGpuJobInput);
  if (!wb.jobIds.includes(job.jobId)) wb.jobIds.push(job.jobId);
  return job;
}

/**
 * One answer per acceptance criterion, by id: `judge` answers the criteria this
 * role's offline specialist recognises (see criteria.ts); every other one is
 * met: false, because the offline specialist cannot check it.
 */
export function answerCriteria<R extends Role>(
  wb: Workbench,
  role: R,
  judge: (key: CheckKey<R>) => Judgement,
): FinishStepInput["criteria"] {
  return identifyCriteria(role, wb.work.step).map(({ id, key }) => {
    const j = key === undefined ? { met: false, evidence: CANNOT_CHECK } : judge(key);
    return { id, met: j.met, evidence: (j.evidence.trim() || "no evidence").slice(0, 1000) };
  });
}

/** Metrics as FinishStep takes them: finite numbers only. */
export function finiteMetrics(m: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
  return out;
}

/**
 * Ends the step with FinishStep and returns its result, with the files the step
 * wrote (plus `produced`) as `filesChanged`. A worker's result that has metrics
 * carries SYNTHETIC_METRICS_WARNING: they come from the synthetic demo table.
 */
export async function finish(
  wb: Workbench,
  input: FinishStepInput | ReviewerFinishStepInput,
  produced: readonly string[] = [],
): Promise<StepResult> {
  const checked = toolSpec("FinishStep", wb.work.role).input.parse({ ...input, summary: input.summary.slice(0, 4000) });
  const lastJob = wb.jobIds.at(-1);
  const result = await finishStep(wb.work, wb.tools, checked as FinishStepInput, lastJob ? { jobId: lastJob } : {});
  const synthetic = wb.work.role !== "code-reviewer" && Object.keys(result.metrics).length > 0;
  return {
    ...result,
    filesChanged: [...new Set([...wb.written, ...produced])],
    ...(synthetic ? { warnings: [SYNTHETIC_METRICS_WARNING, ...(result.warnings ?? [])].slice(0, 10) } : {}),
  };
}

/** A failed command in one line: what failed, how it ended, and the last line it printed. */
export function failureLine(what: string, result: CommandResult): string {
  const last = outputOf(result).trim().split("\n").at(-1)?.trim() ?? "";
  const end = result.exitCode === null ? "timed out" : `exit ${result.exitCode}`;
  return `${what} (${end})${last ? `: ${last}` : ""}`;
}

/**
 * Ends a step that could not do its work: every criterion answered met: false,
 * the first with the reason (the summary's first line), the rest pointing to it.
 */
export async function finishFailed(wb: Workbench, summary: string, produced: readonly string[] = []): Promise<StepResult> {
  const why = (summary.split("\n")[0] ?? summary).replace(/\s+/g, " ");
  const first = wb.work.step.acceptanceCriteria[0]?.id;
  const criteria = wb.work.step.acceptanceCriteria.map(({ id }) => ({
    id,
    met: false,
    evidence: (id === first
      ? `not shown: ${why}`
      : `not shown: the step stopped before it could check this (see ${first})`
    ).slice(0, 1000),
  }));
  return finish(wb, { summary, criteria }, produced);
}

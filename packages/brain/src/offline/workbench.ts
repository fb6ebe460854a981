import type { Role, StepResult, StepWork } from "@mllead/contracts";
import {
  createToolbox,
  type FinishStepInput,
  type ReviewerFinishStepInput,
  type Toolbox,
  type ToolName,
} from "../tools/index.js";
import type { StepTools } from "../types.js";
import { CANNOT_CHECK, type CheckKey, identifyCriteria } from "./criteria.js";
import { SYNTHETIC_METRICS_WARNING } from "./demo-data.js";
import type { OfflineContext } from "./shared.js";

/** A criterion's answer: met or not, with what shows it. */
export interface Judgement {
  met: boolean;
  evidence: string;
}

/** A shell command's outcome as the Bash tool reports it. */
export interface BashRun {
  /** The tool's text: output, then `[exit code N]`. */
  text: string;
  /** The output without the closing status line. */
  output: string;
  /** null when the command timed out or was killed. */
  exitCode: number | null;
}

/**
 * What an offline specialist works with: the same toolbox the Claude loop
 * drives (every file, command and job goes through it), the step, and the
 * shipped scripts. `written` collects the files the step wrote, for `filesChanged`.
 */
export interface Workbench {
  work: StepWork;
  tools: StepTools;
  ctx: OfflineContext;
  toolbox: Toolbox;
  written: string[];
}

/** The tools the offline workers use; the reviewer reads and runs only. */
const WORKER_TOOLS: readonly ToolName[] = ["Read", "Write", "Bash", "SubmitGpuJob", "FinishStep"];
const REVIEWER_TOOLS: readonly ToolName[] = ["Read", "Bash", "FinishStep"];

export function openWorkbench(work: StepWork, tools: StepTools, ctx: OfflineContext): Workbench {
  const names = work.role === "code-reviewer" ? REVIEWER_TOOLS : WORKER_TOOLS;
  return { work, tools, ctx, toolbox: createToolbox(work, tools, names), written: [] };
}

/** Quotes one word for bash. */
export function sh(word: string | number): string {
  const s = String(word);
  return /^[\w./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const STATUS_LINE = /\n?\[(exit code (\d+)|exit code none[^\]]*|timed out and was stopped)\]$/;

/** Runs a bash command through the Bash tool (timeout in seconds). */
export async function bash(wb: Workbench, command: string, timeoutSec = 120): Promise<BashRun> {
  const text = await wb.toolbox.call("Bash", { command, timeout: timeoutSec * 1000 });
  const status = STATUS_LINE.exec(text);
  return {
    text,
    output: status ? text.slice(0, status.index) : text,
    exitCode: status?.[2] !== undefined ? Number(status[2]) : null,
  };
}

/** The last lines of a command's output, for a summary or evidence. */
export function tail(run: BashRun, lines = 6): string {
  return run.output.trim().split("\n").slice(-lines).join("\n");
}

/**
 * Whether a workspace file exists: `test -f` through Bash, not Glob, whose
 * listing stops at a workspace's first files and would miss one in a large
 * repository (and the step would then write over it).
 */
export async function exists(wb: Workbench, path: string): Promise<boolean> {
  return (await bash(wb, `test -f ${sh(path)}`, 30)).exitCode === 0;
}

const NUMBERED = /^\s*(\d+)\t(.*)$/s;
const MORE = /^… \d+ more lines \(use offset (\d+) to read on\)$/;

/** A workspace file's text, read with the Read tool page by page (its line numbers taken off). */
export async function readText(wb: Workbench, path: string): Promise<string> {
  const lines: string[] = [];
  let offset = 1;
  for (;;) {
    const page = await wb.toolbox.call("Read", { file_path: path, offset });
    if (offset === 1 && page === `${path} exists and is empty.`) return "";
    let next: number | undefined;
    for (const line of page.split("\n")) {
      const numbered = NUMBERED.exec(line);
      if (numbered) lines.push(numbered[2] ?? "");
      else next = Number(MORE.exec(line)?.[1]) || next;
    }
    if (next === undefined) return `${lines.join("\n")}\n`;
    offset = next;
  }
}

/** A workspace JSON file, or undefined when it is missing or not JSON. */
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

/** Writes a file with the Write tool and records it as changed by this step. */
export async function write(wb: Workbench, path: string, content: string): Promise<void> {
  await wb.toolbox.call("Write", { file_path: path, content });
  if (!wb.written.includes(path)) wb.written.push(path);
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
  await wb.toolbox.call("FinishStep", { ...input, summary: input.summary.slice(0, 4000) });
  const result = wb.toolbox.state.result;
  if (!result) throw new Error("FinishStep recorded no result");
  const synthetic = wb.work.role !== "code-reviewer" && Object.keys(result.metrics).length > 0;
  return {
    ...result,
    filesChanged: [...new Set([...wb.written, ...produced])],
    ...(synthetic ? { warnings: [SYNTHETIC_METRICS_WARNING, ...(result.warnings ?? [])].slice(0, 10) } : {}),
  };
}

/** A failed command in one line: what failed, how it ended, and the last line it printed. */
export function failureLine(what: string, run: BashRun): string {
  const last = run.output.trim().split("\n").at(-1)?.trim() ?? "";
  const end = run.exitCode === null ? "timed out" : `exit ${run.exitCode}`;
  return `${what} (${end})${last && last !== "[stderr]" ? `: ${last}` : ""}`;
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

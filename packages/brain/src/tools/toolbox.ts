import type { Step, StepResult, StepWork } from "@mllead/contracts";
import type { z } from "zod";
import { ToolNotAllowedError } from "../errors.js";
import type { StepTools } from "../types.js";
import { bashTool } from "./bash.js";
import { editTool, type FileJournal, writeTool } from "./file-tools.js";
import { finishStep } from "./finish.js";
import { submitGpuJobTool } from "./gpu-job.js";
import { outputText, type ToolOutput } from "./output.js";
import { readTool } from "./read-tool.js";
import {
  BashInput,
  EditInput,
  FinishStepInput,
  GlobInput,
  GrepInput,
  ReadInput,
  ReviewerFinishStepInput,
  SubmitGpuJobInput,
  WriteInput,
} from "./schemas.js";
import { globTool, grepTool } from "./search-tools.js";

/** Claude Code's tools that mllead provides, by their Claude Code names. */
const CLAUDE_CODE_TOOLS = ["Read", "Write", "Edit", "Glob", "Grep", "Bash"] as const;
/** mllead's own tools. */
const MLLEAD_TOOLS = ["SubmitGpuJob", "FinishStep"] as const;
export type ToolName = (typeof CLAUDE_CODE_TOOLS)[number] | (typeof MLLEAD_TOOLS)[number];

/** One tool: its name, description for the model, input schema and whether a call changes the world. */
interface ToolSpec {
  name: ToolName;
  description: string;
  input: z.ZodType;
  /** A call that writes, runs or submits: after a crash it is not simply repeated (see the Claude loop). */
  sideEffects: boolean;
}

const SPECS: Record<ToolName, ToolSpec> = {
  Read: {
    name: "Read",
    input: ReadInput,
    sideEffects: false,
    description:
      "Reads a file of the working directory, or of a data dir by its absolute path. Text comes with line numbers (cat -n), up to 2000 lines from offset and about 25,000 tokens (100,000 characters) per call; a longer file's answer says which offset reads on, so use offset/limit to page through a large file (a CSV: read its head, then summarise it with Bash and python3). PNG, JPEG, GIF and WebP images (up to 3.75 MiB) come back as images you can look at, e.g. the plots you made; other binary files are described, not shown.",
  },
  Write: {
    name: "Write",
    input: WriteInput,
    sideEffects: true,
    description: "Writes a file (creating directories), replacing what was there. Prefer Edit for changes to existing files.",
  },
  Edit: {
    name: "Edit",
    input: EditInput,
    sideEffects: true,
    description: "Replaces an exact string in a file. old_string must be unique unless replace_all is set. Read the file first.",
  },
  Glob: {
    name: "Glob",
    input: GlobInput,
    sideEffects: false,
    description:
      "Lists files of the working directory (or of a data dir, given by its absolute path as `path`) matching a glob pattern such as **/*.py. Files the repository's .gitignore ignores are left out (the answer says how many); the answer says when a limit cut it.",
  },
  Grep: {
    name: "Grep",
    input: GrepInput,
    sideEffects: false,
    description:
      "Searches file contents with a regular expression in ripgrep's syntax (RE2: no backreferences or lookaround; (?i) and \\b work), with ripgrep-like options and output modes, in the working directory or a data dir given by its absolute path as `path`. Like ripgrep it skips binary files and what .gitignore ignores; the answer says what it left out and when a limit cut it.",
  },
  Bash: {
    name: "Bash",
    input: BashInput,
    sideEffects: true,
    description:
      "Runs a bash command in the working directory inside the step's sandbox: the task's worktree is writable, the team's data dirs are read-only, nothing else of the host is visible, and there is no network unless the team allowed it. Use it to run scripts, tests and git read commands (git status, git diff).",
  },
  SubmitGpuJob: {
    name: "SubmitGpuJob",
    input: SubmitGpuJobInput,
    sideEffects: true,
    description:
      'Runs a training or evaluation job on a GPU host and waits for it. The working directory is shipped as it is now — committed and new files, not what .gitignore ignores, up to the size limit the answer states — and is the job\'s working directory, so packages and configs import as they do here; `inputs` adds ignored or very large workspace files. The team\'s data dirs are mounted read-only at the same absolute paths; there is no network unless the team allowed it. What the GPU hosts have (GPUs, Python environment) is in the step prompt when the runners report it. Returns the outcome, metrics, artifacts (copied back under runs/<jobId>/) and the log tail. The job writes its outputs to the directory in $MLLEAD_ARTIFACTS_DIR, with its metrics as a flat JSON object of numbers in metrics.json there. Print `::mllead-progress {"step":N,"total":T,"metrics":{...}}` lines for live progress in Slack.',
  },
  FinishStep: {
    name: "FinishStep",
    input: FinishStepInput,
    sideEffects: false,
    description:
      "Ends the step with its structured result: a summary, one entry per acceptance criterion id (met true/false with concrete evidence), metrics and artifact paths. Call it alone, once the work is done and verified. A criterion answered met=false fails the step, and the tech lead re-plans.",
  },
};

/**
 * The tools a step's agent gets. The agent file's `tools:` line selects among
 * Claude Code's tools (no line = all of them, as in Claude Code); `FinishStep`
 * is always there; `SubmitGpuJob` when the line names it, or when the agent has
 * `Bash` and the step runs a GPU job (an agent file written for Claude Code does
 * not know our tool, and still works unchanged).
 */
export function toolsFor(agentTools: readonly string[], step: Pick<Step, "usesGpu">): ToolName[] {
  const all = agentTools.length === 0;
  const listed = new Set(agentTools.map((t) => t.trim()));
  const names: ToolName[] = CLAUDE_CODE_TOOLS.filter((t) => all || listed.has(t));
  if (all || listed.has("SubmitGpuJob") || (step.usesGpu && names.includes("Bash"))) names.push("SubmitGpuJob");
  names.push("FinishStep");
  return names;
}

/** The spec of a tool for a role (the code reviewer's FinishStep carries the verdict). */
export function toolSpec(name: ToolName, role: StepWork["role"]): ToolSpec {
  if (name === "FinishStep" && role === "code-reviewer") return { ...SPECS.FinishStep, input: ReviewerFinishStepInput };
  return SPECS[name];
}

/** What the toolbox remembers of a step's calls, for the step result. */
interface ToolboxState {
  /** Set by a successful FinishStep. */
  result?: StepResult;
  /** The GPU jobs the step ran, in order. */
  jobIds: string[];
  toolCalls: number;
}

/** What one call may carry besides its input. */
interface ToolCallContext {
  /** Where a Write or Edit journals its change first (the Claude loop's transcript), so a resume never repeats it. */
  journal?: FileJournal;
}

/** The tools of one step attempt, callable by name with unparsed input (the same path for Claude and the offline brain). */
export interface Toolbox {
  readonly names: readonly ToolName[];
  readonly state: ToolboxState;
  specs(): ToolSpec[];
  /** Validates `input` against the tool's schema and runs it; throws on bad input or a failing tool. Images are described in text. */
  call(name: string, input: unknown, ctx?: ToolCallContext): Promise<string>;
  /** As `call`, with the answer as the model takes it: text, or blocks where `Read` returns an image. */
  callForModel(name: string, input: unknown, ctx?: ToolCallContext): Promise<ToolOutput>;
}

/** Options of a toolbox. */
interface ToolboxOptions {
  /** Aborted when the step must stop (its time limit): a running command, GPU wait or search stops with it. */
  signal?: AbortSignal;
}

/**
 * The toolbox for one step attempt over the step's tools. Writes and edits run one at a time, in the
 * order they were called (the calls of one reply run concurrently): two edits of one file never read the
 * same old text, and each journals its intent just before it writes.
 */
export function createToolbox(work: StepWork, tools: StepTools, names: readonly ToolName[], opts: ToolboxOptions = {}): Toolbox {
  const state: ToolboxState = { jobIds: [], toolCalls: 0 };
  const allowed = new Set<string>(names);
  const signal = opts.signal;
  let changes: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(change: () => Promise<T>): Promise<T> => {
    const next = changes.then(change, change);
    // The queue only orders the changes; each call's own promise carries its result or error to its caller.
    changes = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  };
  async function run(name: ToolName, input: unknown, ctx: ToolCallContext): Promise<ToolOutput> {
    switch (name) {
      case "Read":
        return readTool(tools, input as ReadInput);
      case "Write":
        return oneAtATime(() => writeTool(tools, input as WriteInput, ctx.journal));
      case "Edit":
        return oneAtATime(() => editTool(tools, input as EditInput, ctx.journal));
      case "Glob":
        return globTool(tools, input as GlobInput);
      case "Grep":
        return grepTool(tools, input as GrepInput, signal);
      case "Bash":
        return (await bashTool(tools, input as BashInput, signal)).text;
      case "SubmitGpuJob": {
        const job = await submitGpuJobTool(tools, input as SubmitGpuJobInput, signal);
        if (!state.jobIds.includes(job.jobId)) state.jobIds.push(job.jobId);
        return job.text;
      }
      case "FinishStep": {
        const lastJob = state.jobIds.at(-1);
        state.result = await finishStep(work, tools, input as FinishStepInput, lastJob ? { jobId: lastJob } : {});
        return `Step result recorded: ${state.result.criteria.filter((c) => c.met).length}/${state.result.criteria.length} acceptance criteria met.`;
      }
      default: {
        const never: never = name;
        throw new ToolNotAllowedError(`unknown tool ${String(never)}`);
      }
    }
  }
  async function callForModel(name: string, input: unknown, ctx: ToolCallContext = {}): Promise<ToolOutput> {
    if (!allowed.has(name))
      throw new ToolNotAllowedError(`the ${work.role} has no tool named ${name} (it has ${names.join(", ")})`);
    const spec = toolSpec(name as ToolName, work.role);
    const parsed = spec.input.parse(input);
    state.toolCalls += 1;
    return run(spec.name, parsed, ctx);
  }
  return {
    names,
    state,
    specs: () => names.map((n) => toolSpec(n, work.role)),
    callForModel,
    call: async (name, input, ctx) => outputText(await callForModel(name, input, ctx)),
  };
}

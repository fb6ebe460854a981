import type {
  Artifact,
  BrainKind,
  JobResult,
  Lesson,
  Person,
  Plan,
  StepResult,
  StepWork,
  UpstreamResult,
  Usage,
  Verdict,
} from "@mllead/contracts";
import type { Logger } from "pino";

/** What the tech lead asks for a plan: the first one, or a revision after feedback. */
export interface PlanRequest {
  taskId: string;
  text: string;
  requester: Person;
  /** Present when revising: the plan people saw and every change they asked for, oldest first. */
  previous?: { plan: Plan; feedback: string[] };
  /**
   * The lessons recorded in the task's channel from earlier tasks (oldest first): the plan follows those
   * that fit and lists them in `lessonsApplied`. What the task's own words or feedback ask for wins.
   */
  lessons?: readonly Lesson[];
  /**
   * Called once with the tokens and cost (`Usage.costUsd`) of every model request the call made — repair
   * rounds included, and also when it fails. Not called when no model was asked (the offline brain).
   */
  onUsage?: (usage: Usage) => void;
}

/** The inputs of the tech lead's closing summary. */
export interface SummaryRequest {
  taskId: string;
  text: string;
  plan: Plan;
  results: UpstreamResult[];
  verdict?: Verdict;
  /** As in PlanRequest: the usage of every model request the summary made, once, whatever the outcome. */
  onUsage?: (usage: Usage) => void;
}

/**
 * A `Write` or `Edit` about to change a file, journalled before it does: a loop resumed after a crash
 * compares the file with these hashes (sha256 of its text; `before` null when it did not exist) to tell
 * whether the change already happened, so it is never applied twice.
 */
export interface FileChangeIntent {
  tool: "Write" | "Edit";
  path: string;
  before: string | null;
  after: string;
  /** What the call answers once the change is made. */
  result: string;
}

/** A persisted model conversation: enough to resume a step after a crash without repeating side effects. */
export interface Transcript {
  /** The conversation so far (Messages API message params). */
  messages: unknown[];
  /** Results of tool calls that finished, by `tool_use` id: a resumed loop returns these instead of running again. */
  toolResults: Record<string, { content: string; isError: boolean }>;
  /** File changes journalled before they were made, by `tool_use` id (absent in transcripts from before). */
  intents?: Record<string, FileChangeIntent>;
  /** Tokens and tool calls used so far. */
  usage: Usage;
  /** When the attempt started (ISO); the wall-clock limit counts from here. */
  startedAt: string;
}

/** Where a step attempt keeps its transcript (one per task, step and attempt). */
export interface TranscriptStore {
  load(): Promise<Transcript | undefined>;
  save(transcript: Transcript): Promise<void>;
}

/** The diff a reviewer reads: from the task's base commit to the worktree. */
export interface RepoDiff {
  /** Unified diff, bounded; `truncated` says so. */
  diff: string;
  files: { status: string; path: string }[];
  truncated: boolean;
}

/** The task's git branch in the team's repository, as the step sees it. */
export interface StepRepo {
  branch: string;
  baseCommit: string;
  diff(): Promise<RepoDiff>;
}

/** A GPU job as a specialist describes it; the tools fill in ids and timestamps. */
export interface GpuJobSpec {
  command: string[];
  files?: { path: string; content: string }[];
  inputs?: { objectName: string; path: string }[];
  env?: Record<string, string>;
  gpus?: number;
  timeoutSec?: number;
}

/** Files found under a path; `truncated` when a limit stopped the walk (the tools then tell the model). */
export interface FileListing {
  /** Workspace-relative paths, or absolute ones inside a data dir. */
  files: string[];
  truncated: boolean;
}

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Everything a specialist may do, as one port. The specialist-agent service
 * implements it over a per-task workspace directory, sandboxed subprocesses,
 * the Object Store and the GPU job queue; tests implement it in memory.
 * Paths are relative to the task's workspace and may not leave it, not even through a symbolic link;
 * reads (`readFile`, `findFiles`) also take absolute paths inside the data dirs (`sandbox.dataDirs`).
 * Errors carry a string `code`: `not_found` and `too_large` among them.
 */
export interface StepTools {
  /** A text file, at most 1 MiB (`code: "too_large"` beyond). */
  readFile(path: string): Promise<string>;
  /** Creates or replaces a workspace file whole (atomically), creating its directories. */
  writeFile(path: string, content: string): Promise<void>;
  /** Every workspace file, relative and sorted (tool directories such as `.git` left out). */
  listFiles(): Promise<string[]>;
  /** The files at `path` (a directory walked, or one file), at most `maxFiles` (default 10,000), saying when it stopped. */
  findFiles(path: string, opts?: { maxFiles?: number }): Promise<FileListing>;
  /** Runs argv (no shell) in the workspace with a timeout (default 300 s); `signal` stops it as a timeout would. */
  run(argv: string[], opts?: { timeoutSec?: number; env?: Record<string, string>; signal?: AbortSignal }): Promise<CommandResult>;
  /** Uploads a workspace file to the artifact store under this task. */
  saveArtifact(path: string, opts?: { contentType?: string }): Promise<Artifact>;
  /** Downloads an artifact into the workspace at `path`. */
  fetchArtifact(artifact: Pick<Artifact, "objectName">, path: string): Promise<void>;
  /** Submits a job to the GPU queue and waits for it to finish (re-attaching if it already ran). */
  runGpuJob(spec: GpuJobSpec, opts?: { signal?: AbortSignal }): Promise<{ jobId: string; result: JobResult }>;
  /** A line of progress for the Slack thread. */
  progress(message: string): Promise<void>;
  log: Logger;
  /** The workspace's absolute path, as commands see it; absolute paths in tool inputs must lie under it. */
  readonly root: string;
  /** The task's branch and its diff; absent where the workspace is not a git worktree. */
  readonly repo?: StepRepo;
  /** Present where the service persists model transcripts (the Claude loop resumes from it). */
  readonly transcript?: TranscriptStore;
  /** How commands are confined, for the prompt and the result (e.g. a warning when bubblewrap is missing). */
  readonly sandbox?: { kind: "bubblewrap" | "process"; network: boolean; dataDirs: readonly string[]; warning?: string };
}

/**
 * A brain: the tech lead's planning and summary, and each specialist's work.
 * Two implementations: offline (deterministic, no key) and Claude.
 */
export interface Brain {
  readonly kind: BrainKind;
  /** A plan that passes `validatePlan`. When `previous` is set, a revision answering the feedback. */
  plan(req: PlanRequest): Promise<Plan>;
  /** Carries out one step with the tools; the result's `verdict` is set for the code reviewer. */
  runStep(work: StepWork, tools: StepTools): Promise<StepResult>;
  summarize(req: SummaryRequest): Promise<string>;
}

import type {
  Artifact,
  BrainKind,
  Finding,
  JobResult,
  LearnedLesson,
  Lesson,
  Person,
  Plan,
  Role,
  ScoutReport,
  StepResult,
  StepWork,
  UpstreamResult,
  Usage,
  Verdict,
} from "@mllead/contracts";
import type { PythonEnvDescription } from "@mllead/sandbox";
import type { Logger } from "pino";

/** What the tech lead asks for a plan: the first one, or a revision after feedback. */
export interface PlanRequest {
  taskId: string;
  text: string;
  requester: Person;
  /** Present when revising: the plan people saw and every change they asked for, oldest first. */
  previous?: { plan: Plan; feedback: string[] };
  /** What the scout read of the team's repository before planning (tree, docs, commits, data, packages, GPUs). */
  context?: ScoutReport;
  /** Why there is no `context` (no specialist answered, a timeout): the plan rests on the request alone. */
  contextMissing?: string;
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

/** A person's change request on a plan, to learn from (`Brain.learn`). */
export interface LearnRequest {
  taskId: string;
  /** The person's words. */
  feedback: string;
  /** The plan they asked to change. */
  plan?: Plan;
  /** The lessons the channel keeps already (oldest first): a correction they already say reinforces one. */
  lessons: readonly Lesson[];
  /** As in PlanRequest: the usage of every model request the call made, once (not called offline). */
  onUsage?: (usage: Usage) => void;
}

/** A reviewer's finding that started a fix round, to learn from (`Brain.lessonFromFinding`). */
export interface FindingLessonRequest {
  taskId: string;
  finding: Finding;
  /** The role of the step that owned the code, when the finding names one. */
  ownerRole?: Role;
  plan?: Plan;
  lessons: readonly Lesson[];
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
  /** The budgets (requests, tokens, time) the model has been told it nears: a resumed loop does not tell it twice. */
  budgetNotes?: ("requests" | "tokens" | "time")[];
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
interface StepRepo {
  branch: string;
  baseCommit: string;
  diff(): Promise<RepoDiff>;
}

/** A GPU job as a specialist describes it; the tools fill in ids and timestamps. */
export interface GpuJobSpec {
  command: string[];
  /**
   * Ship the worktree as it is now (tracked and new files, not ignored ones) as the job's working directory;
   * `files` and `inputs` are then placed over it.
   */
  worktree?: boolean;
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
  /** Files and directories left out because the worktree's `.gitignore` rules ignore them (absent: none). */
  ignored?: number;
}

/** What a GPU job shipped of the worktree. */
export interface ShippedWorktree {
  /** Files in the archive. */
  files: number;
  /** Size of the archive as shipped (bytes, compressed). */
  bytes: number;
  /** Changed files left out (too large, nested repositories), with why. */
  leftOut: string[];
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
  /** Up to `maxBytes` bytes of a file of any size from byte `start` (default 0), and its size in bytes. */
  readBytes(path: string, opts: { start?: number; maxBytes: number }): Promise<{ data: Buffer; size: number }>;
  /** Creates or replaces a workspace file whole (atomically), creating its directories. */
  writeFile(path: string, content: string): Promise<void>;
  /** Every workspace file, relative and sorted (tool directories such as `.git` left out). */
  listFiles(): Promise<string[]>;
  /**
   * The files at `path` (a directory walked, or one file), at most `maxFiles` (default 10,000), saying when it
   * stopped; in the worktree, what its `.gitignore` rules ignore is left out and counted.
   */
  findFiles(path: string, opts?: { maxFiles?: number }): Promise<FileListing>;
  /** Runs argv (no shell) in the workspace with a timeout (default 300 s); `signal` stops it as a timeout would. */
  run(argv: string[], opts?: { timeoutSec?: number; env?: Record<string, string>; signal?: AbortSignal }): Promise<CommandResult>;
  /** Uploads a workspace file to the artifact store under this task. */
  saveArtifact(path: string, opts?: { contentType?: string }): Promise<Artifact>;
  /** Downloads an artifact into the workspace at `path`. */
  fetchArtifact(artifact: Pick<Artifact, "objectName">, path: string): Promise<void>;
  /** Submits a job to the GPU queue and waits for it to finish (re-attaching if it already ran). */
  runGpuJob(
    spec: GpuJobSpec,
    opts?: { signal?: AbortSignal },
  ): Promise<{ jobId: string; result: JobResult; shipped?: ShippedWorktree }>;
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
  readonly sandbox?: {
    kind: "bubblewrap" | "process";
    network: boolean;
    dataDirs: readonly string[];
    warning?: string;
    /** The Python commands run (MLLEAD_PYTHON_ENV, else the system python3): interpreter, version, key packages. */
    python?: PythonEnvDescription;
  };
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
  /**
   * The lessons a person's change request teaches, each `standing` (a rule for the channel's later tasks)
   * or `one-off` (this task only; the tech lead keeps only standing ones). Offline: deterministic rules;
   * Claude: a structured answer.
   */
  learn(req: LearnRequest): Promise<LearnedLesson[]>;
  /** The lesson a reviewer's finding teaches once it started a fix round, or null when it teaches none. */
  lessonFromFinding(req: FindingLessonRequest): Promise<LearnedLesson | null>;
}

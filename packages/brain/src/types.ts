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

/** A persisted model conversation: enough to resume a step after a crash without repeating side effects. */
export interface Transcript {
  /** The conversation so far (Messages API message params). */
  messages: unknown[];
  /** Results of tool calls that finished, by `tool_use` id: a resumed loop returns these instead of running again. */
  toolResults: Record<string, { content: string; isError: boolean }>;
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
 * Paths are relative to the task's workspace and may not leave it.
 */
export interface StepTools {
  readFile(path: string): Promise<string>;
  writeFile(path: string, content: string): Promise<void>;
  listFiles(): Promise<string[]>;
  /** Runs argv (no shell) in the workspace with a timeout (default 300 s). */
  run(argv: string[], opts?: { timeoutSec?: number; env?: Record<string, string> }): Promise<CommandResult>;
  /** Uploads a workspace file to the artifact store under this task. */
  saveArtifact(path: string, opts?: { contentType?: string }): Promise<Artifact>;
  /** Downloads an artifact into the workspace at `path`. */
  fetchArtifact(artifact: Pick<Artifact, "objectName">, path: string): Promise<void>;
  /** Submits a job to the GPU queue and waits for it to finish (re-attaching if it already ran). */
  runGpuJob(spec: GpuJobSpec): Promise<{ jobId: string; result: JobResult }>;
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

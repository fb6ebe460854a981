import type {
  Artifact,
  BrainKind,
  JobResult,
  Person,
  Plan,
  StepResult,
  StepWork,
  UpstreamResult,
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
}

/** The inputs of the tech lead's closing summary. */
export interface SummaryRequest {
  taskId: string;
  text: string;
  plan: Plan;
  results: UpstreamResult[];
  verdict?: Verdict;
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

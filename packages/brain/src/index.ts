export { type ClaudeBrainOptions, createClaudeBrain, MissingAgentError } from "./claude/brain.js";
export { DEFAULT_RETRY, isTransient, type RetryPolicy } from "./claude/call.js";
export { createClaudeClient, MODEL_ALIASES, resolveModel, usageOf } from "./claude/client.js";
export { isRetryableStepError, RetryableStepError, StepLoopError, type StepLoopStop } from "./claude/errors.js";
export {
  type BrainCall,
  ClaudeBadOutputError,
  ClaudeCallError,
  type ClaudeCallErrorCode,
  ClaudeOutputCutError,
  ClaudeRefusedError,
  ClaudeRequestError,
  callNoun,
  PlanRejectedError,
  TransientBrainError,
} from "./claude/failures.js";
export { keepKnownLessons, PLAN_RULES, PlanDraft, planWithClaude } from "./claude/planner.js";
export { DEFAULT_STEP_LIMITS, type StepLoopLimits } from "./claude/specialist.js";
export { MAX_SUMMARY_CHARS, summarizeWithClaude } from "./claude/summary.js";
export { type Thinking, type ThinkingSetting, thinkingFor } from "./claude/thinking.js";
export { BrainConfig, brainFromConfig, brainKind } from "./config.js";
export { type CreateBrainOptions, createBrain } from "./create.js";
export { BrainUnavailableError, JobScriptMissingError } from "./errors.js";
export { addLessonRequirements, applySettingLessons, lessonRequirement } from "./offline/apply-lessons.js";
export { createOfflineBrain, type OfflineBrainOptions } from "./offline/brain.js";
export { NOT_COMMITTED_PREFIX, SYNTHETIC_METRICS_WARNING } from "./offline/demo-data.js";
export { OfflinePlanInvalidError, offlinePlan } from "./offline/planner.js";
export { isTestFile, type ReviewedFile, reviewFiles, reviewPython } from "./offline/review-checks.js";
export { DEFAULT_JOBS_DIR } from "./offline/shared.js";
export { profileTask, type TaskProfile } from "./offline/task-profile.js";
export { createLocalTools, type LocalJobRecord, type LocalTools, type LocalToolsOptions } from "./testing/local-tools.js";
export * from "./tools/index.js";
export type {
  Brain,
  CommandResult,
  FileChangeIntent,
  FileListing,
  FindingLessonRequest,
  GpuJobSpec,
  LearnRequest,
  PlanRequest,
  RepoDiff,
  ShippedWorktree,
  StepRepo,
  StepTools,
  SummaryRequest,
  Transcript,
  TranscriptStore,
} from "./types.js";

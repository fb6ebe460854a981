// The brain's face: what the services, the scripts and the tests use. Test doubles are under `@mllead/brain/testing`;
// the Claude brain's parts (createClaudeBrain, createClaudeClient, isTransient, MAX_SUMMARY_CHARS) under
// `@mllead/brain/claude`, so that importing this entry does not load the Anthropic SDK.
export { callNoun } from "./claude/call-nouns.js";
export { BrainConfig, brainFromConfig, brainKind } from "./config.js";
export { createBrain } from "./create.js";
export {
  ClaudeBadOutputError,
  ClaudeCallError,
  ClaudeOutputCutError,
  ClaudeRefusedError,
  ClaudeRequestError,
  isRetryableStepError,
  PlanRejectedError,
  RetryableStepError,
  StepLoopError,
  TransientBrainError,
} from "./errors.js";
export { lessonRequirement } from "./offline/apply-lessons.js";
export { createOfflineBrain } from "./offline/brain.js";
export { NOT_COMMITTED_PREFIX } from "./offline/demo-data.js";
export { DEFAULT_JOBS_DIR } from "./offline/shared.js";
export { READ_MAX_CHARS } from "./tools/read-tool.js";
export { createToolbox } from "./tools/toolbox.js";
export type { Brain, FileListing, GpuJobSpec, PlanRequest, StepTools, Transcript, TranscriptStore } from "./types.js";

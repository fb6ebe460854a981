export { formatCommandResult } from "./bash.js";
export { ToolInputError, ToolNotAllowedError } from "./errors.js";
export { contentHash, type FileJournal } from "./file-tools.js";
export { checkFinish, finishStep } from "./finish.js";
export { type ImageMediaType, outputText, type ToolContentBlock, type ToolOutput } from "./output.js";
export { MAX_IMAGE_BYTES, READ_MAX_CHARS } from "./read-tool.js";
export * from "./schemas.js";
export {
  CLAUDE_CODE_TOOLS,
  createToolbox,
  MLLEAD_TOOLS,
  type Toolbox,
  type ToolboxOptions,
  type ToolboxState,
  type ToolCallContext,
  type ToolName,
  type ToolSpec,
  toolSpec,
  toolsFor,
} from "./toolbox.js";

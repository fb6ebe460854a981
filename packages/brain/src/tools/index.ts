export { formatCommandResult } from "./bash.js";
export { ToolInputError, ToolNotAllowedError } from "./errors.js";
export { contentHash, type FileJournal } from "./file-tools.js";
export { checkFinish, finishStep } from "./finish.js";
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

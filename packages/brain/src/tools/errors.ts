/** A tool call the model can fix: its message goes back to the model as an error result. */
export class ToolInputError extends Error {
  readonly code = "tool_input";
  override readonly name = "ToolInputError";
}

/** A tool the step's agent may not use (its `tools:` line leaves it out). */
export class ToolNotAllowedError extends Error {
  readonly code = "tool_not_allowed";
  override readonly name = "ToolNotAllowedError";
}

/** Why an agent definition could not be loaded. */
export type AgentDefinitionErrorCode =
  | "agent_file_unreadable"
  | "agent_dir_unreadable"
  | "agent_frontmatter_missing"
  | "agent_frontmatter_invalid"
  | "agent_prompt_empty"
  | "agent_duplicate_name";

/** An agent file or directory that cannot be used; `file` names it and the message says what is wrong. */
export class AgentDefinitionError extends Error {
  override readonly name = "AgentDefinitionError";
  constructor(
    readonly code: AgentDefinitionErrorCode,
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, options);
  }
}

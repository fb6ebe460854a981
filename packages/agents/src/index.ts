export { AgentDefinitionError, type AgentDefinitionErrorCode } from "./errors.js";
export { type LoadAgentsOptions, loadAgentDir, loadAgentFile, loadAgents, PROJECT_AGENTS_DIR, REPO_ROOT } from "./load.js";
export { type AgentDefinition, AgentFrontmatter, EFFORT_LEVELS, type Effort, parseAgentMarkdown } from "./parse.js";

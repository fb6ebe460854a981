// The agents package's face: what the brain and the tests use.
export { loadAgents } from "./load.js";
export { type AgentDefinition, EFFORT_LEVELS, type Effort } from "./parse.js";

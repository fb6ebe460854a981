// `@mllead/brain/claude`: the Claude brain's parts, for the tests and scripts that build one by hand. Kept out of
// the main entry so that a service running the offline brain never loads the Anthropic SDK (`createBrain` imports
// it only when the brain is `anthropic`): about 9 MB of resident memory per process (`pnpm bench memory`).
export { createClaudeBrain } from "./brain.js";
export { isTransient } from "./call.js";
export { createClaudeClient } from "./client.js";
export { MAX_SUMMARY_CHARS } from "./summary.js";

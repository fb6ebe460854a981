export { isSecretName, scrubEnv } from "./env.js";
export { type ProcessOutcome, type ProcessRunner, type ProcessSpec, runProcess } from "./process.js";
export { type CommandResult, DEFAULT_MAX_OUTPUT_BYTES, type RunCommandOptions, runCommand } from "./run-command.js";
export { TailBuffer } from "./tail-buffer.js";

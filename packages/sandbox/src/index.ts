export { isSecretName, scrubEnv } from "./env.js";
export type { LimitEnforcement } from "./limits.js";
export { type SandboxLimits, type SandboxPolicy, SandboxPolicyError } from "./policy.js";
export { type ProcessOutcome, type ProcessRunner, type ProcessSpec, runProcess } from "./process.js";
export { type CommandResult, DEFAULT_MAX_OUTPUT_BYTES, type RunCommandOptions, runCommand } from "./run-command.js";
export {
  type CreateSandboxOptions,
  createSandbox,
  type Sandbox,
  type SandboxCommand,
  type SandboxKind,
  type SandboxProcessSpec,
  SandboxUnavailableError,
} from "./sandbox.js";
export { TailBuffer } from "./tail-buffer.js";

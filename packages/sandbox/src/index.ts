export { type BubblewrapCommand, bubblewrapCommand } from "./bwrap-command.js";
export {
  ConfinedFs,
  type ConfinedFsOptions,
  type ConfinedListing,
  isConfinedTempName,
  type OpenedFile,
} from "./confined-fs.js";
export {
  ENV_NAME,
  isSecretName,
  mergeEnv,
  SANDBOX_BASE_ENV,
  type SandboxEnvSummary,
  sandboxEnv,
  summarizeSandboxEnv,
} from "./env.js";
export { codeOf, hasCode, MISSING, onCode, signalIfAlive } from "./errno.js";
export {
  ConfinedFsError,
  type ConfinedFsErrorCode,
  PythonEnvError,
  SandboxErrorCode,
  SandboxPolicyError,
  SandboxUnavailableError,
} from "./errors.js";
export type { LimitEnforcement } from "./limits.js";
export { LineSplitter, LineTail, lastLines, TailBuffer, tailChars } from "./output-tail.js";
export { isInside, resolveInside } from "./paths.js";
export type { SandboxLimits, SandboxPolicy } from "./policy.js";
export { type ProcessOutcome, type ProcessRunner, type ProcessSpec, runProcess } from "./process.js";
export {
  inSystemDirs,
  inspectPythonEnv,
  PYTHON_ENV_VAR,
  type PythonEnv,
  type PythonEnvGuard,
  type PythonEnvKind,
  pythonEnvVars,
} from "./python-env.js";
export { type OpenedPythonEnv, openPythonEnv } from "./python-env-check.js";
export {
  describePythonEnv,
  KEY_PYTHON_PACKAGES,
  normalizePackageName,
  type PythonEnvDescription,
  type PythonPackage,
} from "./python-packages.js";
export { type CommandResult, DEFAULT_MAX_OUTPUT_BYTES, type RunCommandOptions, runCommand } from "./run-command.js";
export {
  type CreateSandboxOptions,
  createSandbox,
  JOB_MARKER,
  type Sandbox,
  type SandboxCommand,
  type SandboxKind,
  type SandboxProcessSpec,
} from "./sandbox.js";
export { type ListFilesOptions, listFiles } from "./walk.js";

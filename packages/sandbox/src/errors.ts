/**
 * Every error `@mllead/sandbox` throws, one code each (fastify's `lib/errors.js` table, bolt's `ErrorCode`). A
 * code is stable: the services' logs and the model's tool results carry it. A `ConfinedFsError` carries the
 * `ConfinedFsErrorCode` that says why a file operation was refused.
 */
export const SandboxErrorCode = {
  /** A policy that cannot be applied: a relative or missing path, a cwd outside the workdir, a bad limit. */
  Policy: "sandbox_policy",
  /** MLLEAD_PYTHON_ENV names something that cannot be used. */
  PythonEnv: "python_env",
  /** `mode: "bubblewrap"` was asked for and bwrap cannot make a sandbox on this host. */
  Unavailable: "sandbox_unavailable",
} as const;
export type SandboxErrorCode = (typeof SandboxErrorCode)[keyof typeof SandboxErrorCode];

/** Why a confined file operation was refused or failed. */
export type ConfinedFsErrorCode =
  | "path_escape"
  | "read_only"
  | "not_found"
  | "not_a_file"
  | "not_a_directory"
  | "is_a_directory"
  | "too_large"
  | "link_loop";

/** A path a confined file operation refused, or a file it could not use; the message is meant for the model. */
export class ConfinedFsError extends Error {
  override readonly name = "ConfinedFsError";
  constructor(
    message: string,
    readonly code: ConfinedFsErrorCode,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A policy that cannot be applied: a relative or missing path, a cwd outside the workdir, a bad limit. */
export class SandboxPolicyError extends Error {
  readonly code = SandboxErrorCode.Policy;
  override readonly name = "SandboxPolicyError";
}

/** MLLEAD_PYTHON_ENV names something that cannot be used; the message names the variable, the path and what to change. */
export class PythonEnvError extends Error {
  readonly code = SandboxErrorCode.PythonEnv;
  override readonly name = "PythonEnvError";
}

/**
 * `mode: "bubblewrap"` was asked for and bwrap cannot make a sandbox on this host. The
 * message names the cause (`reason`) and what to change (`advice`), for a fatal log line.
 */
export class SandboxUnavailableError extends Error {
  readonly code = SandboxErrorCode.Unavailable;
  override readonly name = "SandboxUnavailableError";
  constructor(
    readonly reason: string,
    readonly advice: string,
  ) {
    super(
      `bubblewrap is required (MLLEAD_SANDBOX=bubblewrap) but cannot run here: ${reason}. To fix: ${advice}. ` +
        "Or set MLLEAD_SANDBOX=process to run model-driven commands without isolation.",
    );
  }
}

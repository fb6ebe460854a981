/** A brain that cannot be used in this configuration (e.g. the Claude brain before it is wired in). */
export class BrainUnavailableError extends Error {
  readonly code = "brain_unavailable";
  override readonly name = "BrainUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A shipped job script that cannot be read (the `jobs/` directory is missing or incomplete). */
export class JobScriptMissingError extends Error {
  readonly code = "job_script_missing";
  override readonly name = "JobScriptMissingError";
  constructor(
    readonly script: string,
    options?: { cause?: unknown },
  ) {
    super(`shipped job script '${script}' cannot be read`, options);
  }
}

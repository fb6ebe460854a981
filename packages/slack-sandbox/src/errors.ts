/**
 * The sandbox's error table (fastify's `codes`, bolt's `ErrorCode`): one code per failure it raises,
 * each with what it means. A Web API refusal is answered to the app as `{ ok: false, error }`; the
 * others are thrown to the test or person driving the sandbox.
 */
export const SANDBOX_ERRORS = {
  /** A Web API call Slack would refuse: the app gets `{ ok: false, error }` with Slack's error name. */
  slack_api_error: "Slack refused the call",
  /** `views.open` refused a trigger or a view (Slack's error name and messages). */
  view_error: "Slack refused to open the view",
  /** The app cannot be reached: it holds no Socket Mode connection and has no Request URL. */
  no_app: "the sandbox has no gateway URL yet: pass gatewayUrl or call setGatewayUrl()",
  /** A helper named something the workspace does not have: a message, a button, a view or an event. */
  not_found: "the sandbox workspace has no such thing",
  /** An app's answer could not be read: a body sent as JSON that is not JSON. */
  bad_answer: "the app's answer could not be read",
} as const;

/** A code from the sandbox's error table. */
export type SandboxErrorCode = keyof typeof SANDBOX_ERRORS;

/** An error the sandbox raises: a stable `code` from SANDBOX_ERRORS, the `cause` kept. */
export class SandboxError extends Error {
  override readonly name: string = "SandboxError";
  constructor(
    readonly code: SandboxErrorCode,
    message: string = SANDBOX_ERRORS[code],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A Slack error answer; `extra` carries Slack's detail fields (e.g. `errors` for `invalid_blocks`). */
export class ApiError extends SandboxError {
  override readonly name = "ApiError";
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super("slack_api_error", error);
  }
}

/** A `views.open` refusal: Slack's error name and, for a bad view, its messages. */
export class ViewError extends SandboxError {
  override readonly name = "ViewError";
  constructor(
    readonly error: string,
    readonly messages: string[] = [],
  ) {
    super("view_error", error);
  }
}

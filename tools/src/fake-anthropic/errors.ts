import { randomUUID } from "node:crypto";

/** A rejection in the API's terms: HTTP status, error `type`, message, and optional `details` (`error_code`, …). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A 400 `invalid_request_error`, the API's answer to most malformed requests. */
export function invalid(message: string, details?: Record<string, unknown>): ApiError {
  return new ApiError(400, "invalid_request_error", message, details);
}

/**
 * The test's script asked for a reply the real API could never give (a call to an undefined tool, output that
 * breaks the schema, …). Answered with a 400, which the SDK does not retry, and kept in `scriptErrors`.
 */
export class ScriptError extends ApiError {
  override name = "ScriptError";
  constructor(message: string) {
    super(400, "invalid_request_error", `fake-anthropic script error: ${message}`);
  }
}

export const requestId = () => `req_${randomUUID().replace(/-/g, "")}`;

/** The API's error body: `{type: "error", error: {type, message, details?}, request_id}`. */
export function errorBody(type: string, message: string, details?: Record<string, unknown>) {
  return {
    type: "error" as const,
    error: { type, message, ...(details ? { details } : {}) },
    request_id: requestId(),
  };
}

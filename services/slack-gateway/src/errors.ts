import { webApi } from "@slack/bolt";

/**
 * Every error the gateway throws, one code each (fastify's `lib/errors.js` table, bolt's `ErrorCode`). A code is
 * stable: logs and set-aside entries carry it, so it never changes meaning. A bad configuration throws
 * service-kit's `ConfigError`.
 */
export const GatewayErrorCode = {
  /** A Slack Web API call failed; `slackError` names Slack's error and `permanent` whether a retry could help. */
  SlackApi: "slack_api_error",
} as const;
export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

/** The base of the gateway's errors: a stable `code` from `GatewayErrorCode`, `name` set, `cause` kept. */
export abstract class GatewayError extends Error {
  abstract readonly code: GatewayErrorCode;
  override readonly name: string = "GatewayError";
}

/** Slack errors that retrying cannot fix: the message is set aside (or sent in a simpler form) instead. */
const PERMANENT = new Set([
  "channel_not_found",
  "not_in_channel",
  "is_archived",
  "msg_too_long",
  "msg_blocks_too_long",
  "invalid_blocks",
  "invalid_blocks_format",
  "invalid_chunks",
  "invalid_metadata_format",
  "no_text",
  "cant_update_message",
  "user_not_in_channel",
  "thread_not_found",
  "invalid_thread_ts",
  "restricted_action",
  "invalid_arguments",
  "invalid_channel",
  "missing_scope",
  "not_allowed_token_type",
  "unknown_method",
  "missing_recipient_user_id",
  "missing_recipient_team_id",
  "channel_type_not_supported",
  "message_not_in_streaming_state",
  "file_upload_size_restricted",
  "file_uploads_disabled",
  "storage_limit_reached",
  "alt_txt_too_large",
  "file_not_found",
  "missing_argument",
  "view_too_large",
  "not_enabled",
]);

/** A Slack Web API call failed. `permanent` says whether a retry could ever succeed. */
export class SlackApiError extends GatewayError {
  readonly code = GatewayErrorCode.SlackApi;
  override readonly name = "SlackApiError";
  /** Seconds Slack asked to wait (HTTP 429 `Retry-After`); set only for `ratelimited`. */
  readonly retryAfterSec: number | undefined;
  /** The Web API method that failed, when known (a 429 limits that method, and for chat.postMessage that channel). */
  readonly method: string | undefined;
  constructor(
    readonly slackError: string,
    readonly permanent: boolean,
    options?: ErrorOptions & { retryAfterSec?: number; method?: string },
  ) {
    super(`Slack API error${options?.method ? ` (${options.method})` : ""}: ${slackError}`, options);
    this.retryAfterSec = options?.retryAfterSec;
    this.method = options?.method;
  }
}

/** Normalises a WebClient error to a SlackApiError (platform errors keep Slack's error name). */
export function toSlackApiError(err: unknown, method?: string): SlackApiError {
  if (err instanceof SlackApiError) return err;
  const e = err as { code?: string; data?: { error?: string }; message?: string; retryAfter?: number };
  const m = method ? { method } : {};
  if (e?.code === webApi.ErrorCode.PlatformError) {
    const name = e.data?.error ?? "unknown_error";
    return new SlackApiError(name, PERMANENT.has(name), { cause: err, ...m });
  }
  if (e?.code === webApi.ErrorCode.RateLimitedError) {
    return new SlackApiError("ratelimited", false, { cause: err, retryAfterSec: e.retryAfter ?? 1, ...m });
  }
  return new SlackApiError(e?.code ?? "request_failed", false, { cause: err, ...m });
}

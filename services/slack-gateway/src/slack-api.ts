import { type types, webApi } from "@slack/bolt";

/** A message the gateway sends: fallback text (notifications, screen readers) and blocks. */
export interface OutgoingMessage {
  text: string;
  blocks?: types.KnownBlock[];
}

/** The metadata event type that marks a message as posted by mllead for one event. */
export const METADATA_EVENT_TYPE = "mllead_event";

/** Slack errors that retrying cannot fix: the event is dropped with a log line instead. */
const PERMANENT = new Set([
  "channel_not_found",
  "not_in_channel",
  "is_archived",
  "msg_too_long",
  "invalid_blocks",
  "invalid_metadata_format",
  "no_text",
  "cant_update_message",
  "user_not_in_channel",
  "thread_not_found",
  "restricted_action",
  "invalid_arguments",
]);

/** A Slack Web API call failed. `permanent` says whether a retry could ever succeed. */
export class SlackApiError extends Error {
  readonly code = "slack_api_error";
  override readonly name = "SlackApiError";
  constructor(
    readonly slackError: string,
    readonly permanent: boolean,
    options?: ErrorOptions,
  ) {
    super(`Slack API error: ${slackError}`, options);
  }
}

/** Normalises a WebClient error to a SlackApiError (platform errors keep Slack's error name). */
export function toSlackApiError(err: unknown): SlackApiError {
  if (err instanceof SlackApiError) return err;
  const e = err as { code?: string; data?: { error?: string }; message?: string };
  if (e?.code === webApi.ErrorCode.PlatformError) {
    const name = e.data?.error ?? "unknown_error";
    return new SlackApiError(name, PERMANENT.has(name), { cause: err });
  }
  if (e?.code === webApi.ErrorCode.RateLimitedError) return new SlackApiError("ratelimited", false, { cause: err });
  return new SlackApiError(e?.code ?? "request_failed", false, { cause: err });
}

/** Everything the gateway does to Slack when rendering events: one small port, easy to fake. */
export interface SlackApi {
  /** Posts into a thread with `metadata` naming `postKey`; returns the message ts. */
  post(channel: string, threadTs: string, msg: OutgoingMessage, postKey: string): Promise<string>;
  update(channel: string, ts: string, msg: OutgoingMessage): Promise<void>;
  ephemeral(channel: string, user: string, threadTs: string, msg: OutgoingMessage): Promise<void>;
  /** The ts of a message in the thread whose metadata names `postKey`, or null. */
  findPosted(channel: string, threadTs: string, postKey: string): Promise<string | null>;
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toSlackApiError(err);
  }
}

/** The SlackApi port over Bolt's WebClient. */
export function webSlackApi(client: webApi.WebClient): SlackApi {
  return {
    post: (channel, threadTs, msg, postKey) =>
      call(async () => {
        const res = await client.chat.postMessage({
          channel,
          thread_ts: threadTs,
          text: msg.text,
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
          metadata: { event_type: METADATA_EVENT_TYPE, event_payload: { event_id: postKey } },
          unfurl_links: false,
        });
        if (!res.ts) throw new SlackApiError("no_ts_in_response", false);
        return res.ts;
      }),
    update: (channel, ts, msg) =>
      call(async () => {
        await client.chat.update({ channel, ts, text: msg.text, ...(msg.blocks ? { blocks: msg.blocks } : {}) });
      }),
    ephemeral: (channel, user, threadTs, msg) =>
      call(async () => {
        await client.chat.postEphemeral({
          channel,
          user,
          thread_ts: threadTs,
          text: msg.text,
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
        });
      }),
    findPosted: (channel, threadTs, postKey) =>
      call(async () => {
        let cursor: string | undefined;
        do {
          const page = await client.conversations.replies({
            channel,
            ts: threadTs,
            include_all_metadata: true,
            limit: 200,
            ...(cursor ? { cursor } : {}),
          });
          for (const m of page.messages ?? []) {
            const md = m.metadata as { event_type?: string; event_payload?: { event_id?: unknown } } | undefined;
            if (md?.event_type === METADATA_EVENT_TYPE && md.event_payload?.event_id === postKey && m.ts) return m.ts;
          }
          cursor = page.response_metadata?.next_cursor || undefined;
        } while (cursor);
        return null;
      }),
  };
}

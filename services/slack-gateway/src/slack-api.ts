import { type types, webApi } from "@slack/bolt";

/** A message the gateway sends: fallback text (notifications, screen readers) and blocks. */
export interface OutgoingMessage {
  text: string;
  blocks?: types.KnownBlock[];
}

/** The metadata event type that marks a message as posted by mllead for one event. */
export const METADATA_EVENT_TYPE = "mllead_event";

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
export class SlackApiError extends Error {
  readonly code = "slack_api_error";
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

/** One file to share in a thread. */
export interface UploadFile {
  filename: string;
  title: string;
  /** For images: what a screen reader says. */
  altText?: string;
  bytes: Uint8Array;
}

/** How a streamed reply ends: blocks under the text, and the metadata that names its post key. */
export interface StreamEnd {
  blocks?: types.KnownBlock[];
  postKey: string;
}

/** Everything the gateway does to Slack: one small port, easy to fake. */
export interface SlackApi {
  /** Posts into a thread with `metadata` naming `postKey`; returns the message ts. */
  post(channel: string, threadTs: string, msg: OutgoingMessage, postKey: string): Promise<string>;
  update(channel: string, ts: string, msg: OutgoingMessage): Promise<void>;
  ephemeral(channel: string, user: string, threadTs: string, msg: OutgoingMessage): Promise<void>;
  /** The ts of a message in the thread whose metadata names `postKey`, or null. */
  findPosted(channel: string, threadTs: string, postKey: string): Promise<string | null>;
  /** The ts of a file share of the bot in the thread whose files carry exactly these titles, or null. */
  findFileShare(channel: string, threadTs: string, titles: readonly string[]): Promise<string | null>;
  /**
   * Streams `parts` (markdown) as one reply with the WebClient's chatStream helper; `onStarted` gets
   * the message ts as soon as Slack created it (before the rest is appended).
   */
  stream(
    target: { channel: string; threadTs: string; userId: string; teamId: string },
    parts: readonly string[],
    end: StreamEnd,
    onStarted: (ts: string) => Promise<void>,
  ): Promise<string>;
  /** Ends a stream left open (by a crash); `message_not_in_streaming_state` when it already ended. */
  stopStream(channel: string, ts: string, end: StreamEnd): Promise<void>;
  /** The app's status under a thread ("is writing a plan…"); "" clears it. */
  setStatus(channel: string, threadTs: string, status: string): Promise<void>;
  /** Uploads files (files.getUploadURLExternal, the bytes, files.completeUploadExternal) and shares them in the thread. */
  uploadFiles(channel: string, threadTs: string, files: readonly UploadFile[], comment: string): Promise<void>;
  openView(triggerId: string, view: types.View): Promise<void>;
  publishHome(userId: string, view: types.HomeView): Promise<void>;
  react(channel: string, ts: string, name: string): Promise<void>;
}

async function call<T>(method: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toSlackApiError(err, method);
  }
}

function metadata(postKey: string) {
  return { event_type: METADATA_EVENT_TYPE, event_payload: { event_id: postKey } };
}

/**
 * The WebClient the gateway posts with: a 429 is handed back at once (`rejectRateLimitedCalls`)
 * so the outbox pauses only what it limits. (By default WebClient pauses all its calls for the
 * whole Retry-After.)
 */
export function outboundClient(token: string, slackApiUrl: string | undefined): webApi.WebClient {
  return new webApi.WebClient(token, {
    ...(slackApiUrl ? { slackApiUrl } : {}),
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 2000 },
    logLevel: webApi.LogLevel.ERROR,
  });
}

interface ThreadMessage {
  ts?: string;
  user?: string;
  metadata?: { event_type?: string; event_payload?: { event_id?: unknown } };
  files?: { title?: string }[];
}

/** The SlackApi port over a WebClient. */
export function webSlackApi(client: webApi.WebClient): SlackApi {
  let botUserId: string | undefined;
  const botUser = async () => {
    botUserId ??= (await client.auth.test()).user_id;
    return botUserId;
  };
  const eachReply = async (channel: string, threadTs: string, match: (m: ThreadMessage) => boolean) => {
    let cursor: string | undefined;
    do {
      const page = await client.conversations.replies({
        channel,
        ts: threadTs,
        include_all_metadata: true,
        limit: 200,
        ...(cursor ? { cursor } : {}),
      });
      for (const m of (page.messages ?? []) as ThreadMessage[]) if (m.ts && match(m)) return m.ts;
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return null;
  };
  return {
    post: (channel, threadTs, msg, postKey) =>
      call("chat.postMessage", async () => {
        const res = await client.chat.postMessage({
          channel,
          thread_ts: threadTs,
          text: msg.text,
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
          metadata: metadata(postKey),
          unfurl_links: false,
          unfurl_media: false,
        });
        if (!res.ts) throw new SlackApiError("no_ts_in_response", false);
        return res.ts;
      }),
    update: (channel, ts, msg) =>
      call("chat.update", async () => {
        await client.chat.update({ channel, ts, text: msg.text, ...(msg.blocks ? { blocks: msg.blocks } : {}) });
      }),
    ephemeral: (channel, user, threadTs, msg) =>
      call("chat.postEphemeral", async () => {
        await client.chat.postEphemeral({
          channel,
          user,
          thread_ts: threadTs,
          text: msg.text,
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
        });
      }),
    findPosted: (channel, threadTs, postKey) =>
      call("conversations.replies", () =>
        eachReply(
          channel,
          threadTs,
          (m) => m.metadata?.event_type === METADATA_EVENT_TYPE && m.metadata.event_payload?.event_id === postKey,
        ),
      ),
    findFileShare: (channel, threadTs, titles) =>
      call("conversations.replies", async () => {
        const me = await botUser();
        const want = JSON.stringify([...titles].sort());
        return eachReply(
          channel,
          threadTs,
          (m) => m.user === me && JSON.stringify((m.files ?? []).map((f) => f.title ?? "").sort()) === want,
        );
      }),
    stream: async (target, parts, end, onStarted) => {
      // chatStream buffers until `buffer_size`; 1 makes each part one call, so the first starts the stream.
      const streamer = client.chatStream({
        channel: target.channel,
        thread_ts: target.threadTs,
        recipient_user_id: target.userId,
        recipient_team_id: target.teamId,
        buffer_size: 1,
      });
      const [first = " ", ...rest] = parts;
      await call("chat.startStream", () => streamer.append({ markdown_text: first }));
      const ts = streamer.ts;
      if (!ts) throw new SlackApiError("no_ts_in_response", false, { method: "chat.startStream" });
      await onStarted(ts);
      for (const part of rest) await call("chat.appendStream", () => streamer.append({ markdown_text: part }));
      await call("chat.stopStream", () =>
        streamer.stop({ ...(end.blocks ? { blocks: end.blocks } : {}), metadata: metadata(end.postKey) }),
      );
      return ts;
    },
    stopStream: (channel, ts, end) =>
      call("chat.stopStream", async () => {
        await client.chat.stopStream({
          channel,
          ts,
          ...(end.blocks ? { blocks: end.blocks } : {}),
          metadata: metadata(end.postKey),
        });
      }),
    setStatus: (channel, threadTs, status) =>
      call("assistant.threads.setStatus", async () => {
        await client.assistant.threads.setStatus({ channel_id: channel, thread_ts: threadTs, status });
      }),
    uploadFiles: async (channel, threadTs, files, comment) => {
      const ids: { id: string; title: string }[] = [];
      for (const f of files) {
        const url = await call("files.getUploadURLExternal", () =>
          client.files.getUploadURLExternal({
            filename: f.filename,
            length: f.bytes.length,
            ...(f.altText ? { alt_text: f.altText } : {}),
          }),
        );
        if (!url.upload_url || !url.file_id)
          throw new SlackApiError("no_upload_url", false, { method: "files.getUploadURLExternal" });
        const res = await fetch(url.upload_url, {
          method: "POST",
          headers: { "content-type": "application/octet-stream" },
          body: f.bytes,
        }).catch((err: unknown) => {
          throw new SlackApiError("upload_failed", false, { cause: err, method: "files.upload" });
        });
        // Slack answers 413 for a file over its limit: no retry will change that.
        if (res.status === 413) throw new SlackApiError("file_upload_size_restricted", true, { method: "files.upload" });
        if (res.status !== 200) throw new SlackApiError(`upload_http_${res.status}`, false, { method: "files.upload" });
        ids.push({ id: url.file_id, title: f.title });
      }
      await call("files.completeUploadExternal", () =>
        client.files.completeUploadExternal({
          files: ids as [{ id: string; title: string }],
          channel_id: channel,
          thread_ts: threadTs,
          initial_comment: comment,
        }),
      );
    },
    openView: (triggerId, view) =>
      call("views.open", async () => {
        await client.views.open({ trigger_id: triggerId, view });
      }),
    publishHome: (userId, view) =>
      call("views.publish", async () => {
        await client.views.publish({ user_id: userId, view });
      }),
    react: (channel, ts, name) =>
      call("reactions.add", async () => {
        await client.reactions.add({ channel, timestamp: ts, name });
      }),
  };
}

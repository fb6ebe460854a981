import { webApi } from "@slack/bolt";
import { SlackApiError, toSlackApiError } from "./errors.js";
import { METADATA_EVENT_TYPE, type SlackApi, type StreamEnd, type UploadFile } from "./slack-api.js";

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
  return {
    ...messageMethods(client),
    ...threadLookups(client),
    stream: (target, parts, end, onStarted) => streamReply(client, target, parts, end, onStarted),
    uploadFiles: (channel, threadTs, files, comment) => uploadFiles(client, channel, threadTs, files, comment),
    openView: (triggerId, view) =>
      call("views.open", async () => {
        await client.views.open({ trigger_id: triggerId, view });
      }),
    publishHome: (userId, view) =>
      call("views.publish", async () => {
        await client.views.publish({ user_id: userId, view });
      }),
  };
}

/** Posting, editing and ending messages in a thread, the thread's status and reactions. */
function messageMethods(
  client: webApi.WebClient,
): Pick<SlackApi, "post" | "update" | "ephemeral" | "stopStream" | "setStatus" | "react"> {
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
    react: (channel, ts, name) =>
      call("reactions.add", async () => {
        await client.reactions.add({ channel, timestamp: ts, name });
      }),
  };
}

/** Finding what the bot already posted in a thread (after a crash between Slack's answer and the outbox's record). */
function threadLookups(client: webApi.WebClient): Pick<SlackApi, "findPosted" | "findFileShare"> {
  let botUserId: string | undefined;
  const botUser = async () => {
    botUserId ??= (await client.auth.test()).user_id;
    return botUserId;
  };
  // The ts of the first reply that matches, reading the thread page by page until one does.
  const findReply = async (channel: string, threadTs: string, match: (m: ThreadMessage) => boolean) => {
    const pages = client.paginate("conversations.replies", { channel, ts: threadTs, include_all_metadata: true, limit: 200 });
    for await (const page of pages as AsyncIterable<{ messages?: ThreadMessage[] }>) {
      for (const m of page.messages ?? []) if (m.ts && match(m)) return m.ts;
    }
    return null;
  };
  return {
    findPosted: (channel, threadTs, postKey) =>
      call("conversations.replies", () =>
        findReply(
          channel,
          threadTs,
          (m) => m.metadata?.event_type === METADATA_EVENT_TYPE && m.metadata.event_payload?.event_id === postKey,
        ),
      ),
    findFileShare: (channel, threadTs, titles) =>
      call("conversations.replies", async () => {
        const me = await botUser();
        const want = JSON.stringify([...titles].sort());
        return findReply(
          channel,
          threadTs,
          (m) => m.user === me && JSON.stringify((m.files ?? []).map((f) => f.title ?? "").sort()) === want,
        );
      }),
  };
}

/** Streams `parts` as one reply with the WebClient's chatStream helper (see `SlackApi.stream`). */
async function streamReply(
  client: webApi.WebClient,
  target: { channel: string; threadTs: string; userId: string; teamId: string },
  parts: readonly string[],
  end: StreamEnd,
  onStarted: (ts: string) => Promise<void>,
): Promise<string> {
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
}

/** Uploads files (files.getUploadURLExternal, the bytes, files.completeUploadExternal) and shares them in the thread. */
async function uploadFiles(
  client: webApi.WebClient,
  channel: string,
  threadTs: string,
  files: readonly UploadFile[],
  comment: string,
): Promise<void> {
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
}

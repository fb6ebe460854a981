import type { types } from "@slack/bolt";

/** A message the gateway sends: fallback text (notifications, screen readers) and blocks. */
export interface OutgoingMessage {
  text: string;
  blocks?: types.KnownBlock[];
}

/** The metadata event type that marks a message as posted by mllead for one event. */
export const METADATA_EVENT_TYPE = "mllead_event";

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

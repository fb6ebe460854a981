import { SandboxError } from "./errors.js";
/** One message as Slack stores it (the fields the sandbox keeps). */
export interface SandboxMessage {
  type: "message";
  channel: string;
  ts: string;
  text: string;
  user?: string;
  bot_id?: string;
  thread_ts?: string;
  blocks?: unknown[];
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  reactions?: { name: string; users: string[]; count: number }[];
  edited?: { user: string; ts: string };
  reply_count?: number;
  /** `file_share` for the message that shares uploaded files into a conversation. */
  subtype?: string;
  /** Files shared with the message (files.completeUploadExternal). */
  files?: SandboxFile[];
  upload?: boolean;
  display_as_bot?: boolean;
}

/** A file uploaded with files.getUploadURLExternal and completed with files.completeUploadExternal. */
export interface SandboxFile {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  /** Alt text given at upload, for screen readers. */
  alt_txt?: string;
  /** Where the sandbox serves the bytes (the browser UI shows images from here). */
  url_private: string;
  user: string;
  created: number;
}

/** An upload in progress: the URL was handed out, the bytes may have arrived. */
export interface PendingUpload {
  id: string;
  filename: string;
  length: number;
  altText?: string;
  bytes?: Buffer;
  completed: boolean;
}

/** A view the app published to a person's Home tab. */
export interface SandboxHomeView {
  id: string;
  user: string;
  blocks: unknown[];
  private_metadata: string;
  callback_id: string;
  hash: string;
  updatedAt: string;
}

/** A message only one person sees. */
export interface SandboxEphemeral {
  channel: string;
  user: string;
  ts: string;
  text: string;
  thread_ts?: string;
  blocks?: unknown[];
}

export interface SandboxChannel {
  id: string;
  name: string;
}

/**
 * Message timestamps the way Slack writes them (`"1700000000.000100"`): seconds, a dot,
 * six digits, strictly increasing so they order and identify messages.
 */
export class TsClock {
  private lastMicros = 0n;
  next(): string {
    const now = BigInt(Date.now()) * 1000n;
    const micros = now > this.lastMicros + 100n ? now : this.lastMicros + 100n;
    this.lastMicros = micros;
    const sec = micros / 1_000_000n;
    const frac = (micros % 1_000_000n).toString().padStart(6, "0");
    return `${sec}.${frac}`;
  }
}

/** Channels, messages, threads, ephemerals and reactions of one fake workspace, in memory. */
export class WorkspaceStore {
  readonly clock = new TsClock();
  private readonly channels = new Map<string, SandboxChannel>();
  private readonly messages = new Map<string, SandboxMessage[]>();
  readonly ephemerals: SandboxEphemeral[] = [];
  /** The app's status in a thread (`assistant.threads.setStatus`), by `channel/threadTs`; cleared when the app replies there. */
  readonly threadStatus = new Map<string, string>();
  /** Messages still streaming (`chat.startStream` until `chat.stopStream`), by `channel/ts`, with the markdown so far. */
  readonly streams = new Map<string, { markdown: string }>();
  /** Uploads by file id, and the Home tab of each person. */
  readonly uploads = new Map<string, PendingUpload>();
  readonly files = new Map<string, SandboxFile & { bytes: Buffer }>();
  readonly homes = new Map<string, SandboxHomeView>();

  constructor(channels: SandboxChannel[]) {
    for (const c of channels) this.addChannel(c);
  }

  addChannel(c: SandboxChannel): void {
    this.channels.set(c.id, c);
    if (!this.messages.has(c.id)) this.messages.set(c.id, []);
  }

  channel(id: string): SandboxChannel | undefined {
    return this.channels.get(id);
  }

  listChannels(): SandboxChannel[] {
    return [...this.channels.values()];
  }

  /** Adds a message with a fresh ts (or the given one) and returns it. */
  add(msg: Omit<SandboxMessage, "type" | "ts"> & { ts?: string }): SandboxMessage {
    const list = this.messages.get(msg.channel);
    if (!list) throw new SandboxError("not_found", `no channel ${msg.channel}`);
    const stored: SandboxMessage = { type: "message", ...msg, ts: msg.ts ?? this.clock.next() };
    list.push(stored);
    // Slack clears the app's "is thinking" status in a thread as soon as the app replies there.
    if (msg.user === undefined || msg.thread_ts === undefined) return stored;
    if (msg.bot_id !== undefined || msg.upload) this.threadStatus.delete(`${msg.channel}/${msg.thread_ts}`);
    return stored;
  }

  find(channel: string, ts: string): SandboxMessage | undefined {
    return this.messages.get(channel)?.find((m) => m.ts === ts);
  }

  /** Top-level messages of a channel (thread replies excluded), oldest first, with reply counts. */
  history(channel: string): SandboxMessage[] {
    const all = this.messages.get(channel) ?? [];
    return all
      .filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts)
      .map((m) => ({ ...m, reply_count: all.filter((r) => r.thread_ts === m.ts && r.ts !== m.ts).length }));
  }

  /** A thread: its root (when it exists) then its replies, oldest first. */
  thread(channel: string, threadTs: string): SandboxMessage[] {
    const all = this.messages.get(channel) ?? [];
    const root = all.find((m) => m.ts === threadTs);
    const replies = all.filter((m) => m.thread_ts === threadTs && m.ts !== threadTs);
    return root ? [root, ...replies] : replies;
  }

  ephemeralsFor(channel: string, user?: string): SandboxEphemeral[] {
    return this.ephemerals.filter((e) => e.channel === channel && (user === undefined || e.user === user));
  }
}

import type { Bus } from "@mllead/bus";
import { OBJECT_STORE } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import type { Logger } from "pino";
import type { ArtifactLinker } from "../artifact-links.js";
import { SlackApiError } from "../errors.js";
import type { FileShare, FileSource } from "../render/files.js";
import { uploadRefusedText } from "../render/files.js";
import type { OutgoingMessage, SlackApi, UploadFile } from "../slack-api.js";
import type { SlackStore } from "../store.js";
import type { OutboundStore } from "./outbound-store.js";
import type { OutboxExecutor, OutboxItem, RunFailure } from "./outbox.js";
import { isFormError, type Poster, type ThreadTarget } from "./poster.js";

/** What one outbox item does in Slack. */
export type Delivery =
  /** A new message in the thread; a plan is remembered by its ts (reactions on it approve it). */
  | { kind: "post"; msg: OutgoingMessage; alternatives?: OutgoingMessage[]; rememberPlan?: { taskId: string; revision: number } }
  /**
   * A message edited in place (status card, job); updated if it exists. `defer`: when it is not
   * created yet — `thinking`: not while Slack shows the app's "thinking" status in the thread (a post
   * would clear it); `later`: not in this state at all (the plan message is what a person reads
   * while a plan awaits approval; the card starts with the work).
   */
  | { kind: "upsert"; msg: OutgoingMessage; alternatives?: OutgoingMessage[]; defer?: "thinking" | "later" }
  | { kind: "ephemeral"; user: string; msg: OutgoingMessage }
  | { kind: "files"; taskId: string; shares: FileShare[]; comment: string; source: FileSource }
  /** The summary, streamed; `fallback` is posted where Slack will not stream, and completes a stream cut by a crash. */
  | {
      kind: "stream";
      parts: string[];
      end: types.KnownBlock[];
      recipient?: { userId: string; teamId: string };
      fallback: OutgoingMessage;
    }
  /** Slack's "is thinking…" line under the thread. */
  | { kind: "status"; status: string };

export type DeliveryItem = OutboxItem<Delivery>;

/** The rate-limit lane of a Web API method: chat.postMessage is limited per channel, the rest per workspace. */
export function laneOf(method: string, channel: string): string {
  return method === "chat.postMessage" ? `chat.postMessage:${channel}` : method;
}

const FILE_METHODS = ["files.getUploadURLExternal", "files.upload", "files.completeUploadExternal"];
const STREAM_METHODS = ["chat.startStream", "chat.appendStream", "chat.stopStream"];

/** Slack errors that say the app may not use a feature here (it falls back; no retry will help). */
const REFUSED = new Set([
  "missing_scope",
  "not_allowed_token_type",
  "unknown_method",
  "no_permission",
  "missing_recipient_user_id",
  "missing_recipient_team_id",
  "channel_type_not_supported",
  "invalid_thread_ts",
  "not_enabled",
  "method_deprecated",
]);

/**
 * Does the outbox's items in Slack, each at most once (post marks in KV, metadata in the message),
 * falling back to a simpler form where Slack refuses a richer one: the classic card for the plan
 * block, a plain post for a stream, a list of files for an upload, text for blocks.
 */
export class SlackDelivery implements OutboxExecutor<Delivery> {
  /** Slack refused the plan block / streaming / thread status here once: use the fallback from now on. */
  private planBlockRefused = false;
  private streamRefused = false;
  private statusRefused = false;
  private readonly created = new Set<string>();

  constructor(
    private readonly deps: {
      slack: SlackApi;
      poster: Poster;
      store: SlackStore;
      outbound: OutboundStore<Delivery>;
      bus: Bus;
      log: Logger;
      links?: ArtifactLinker | null;
    },
  ) {}

  lanes(item: DeliveryItem): string[] {
    const p = item.payload;
    switch (p.kind) {
      case "post":
        return [laneOf("chat.postMessage", item.channel)];
      case "upsert":
        return [this.created.has(item.key) ? "chat.update" : laneOf("chat.postMessage", item.channel)];
      case "ephemeral":
        return ["chat.postEphemeral"];
      case "files":
        return FILE_METHODS;
      case "stream":
        return this.streamRefused || !p.recipient ? [laneOf("chat.postMessage", item.channel)] : STREAM_METHODS;
      case "status":
        return ["assistant.threads.setStatus"];
    }
  }

  classify(err: unknown, item: DeliveryItem): RunFailure {
    if (err instanceof SlackApiError) {
      if (err.slackError === "ratelimited") {
        const method = err.method ?? this.lanes(item)[0] ?? "unknown";
        return {
          kind: "rate_limited",
          lane: laneOf(method, item.channel),
          retryAfterMs: Math.max(1, err.retryAfterSec ?? 1) * 1000,
        };
      }
      if (err.permanent) return { kind: "permanent", reason: `Slack refused it: ${err.slackError}` };
    }
    return { kind: "transient", reason: err instanceof Error ? err.message : String(err) };
  }

  async setAside(item: DeliveryItem, reason: string): Promise<void> {
    this.deps.log.error(
      { postKey: item.key, channel: item.channel, reason },
      "set aside a Slack message that cannot be delivered",
    );
    await this.deps.outbound.setAside({
      // `job:` is the prefix these entries were always kept under; it stays so their keys do not change.
      key: `job:${item.key}`,
      what: `Slack ${item.payload.kind} ${item.key}`,
      reason,
      at: new Date().toISOString(),
      body: JSON.stringify(item).slice(0, 20_000),
    });
  }

  async run(item: DeliveryItem): Promise<void> {
    const target: ThreadTarget = { channel: item.channel, threadTs: item.threadTs };
    const p = item.payload;
    const { poster, store } = this.deps;
    switch (p.kind) {
      case "post": {
        const { ts } = await poster.postOnce(item.key, target, p.msg, p.alternatives);
        if (p.rememberPlan) await store.rememberPlan(item.channel, ts, p.rememberPlan);
        return;
      }
      case "upsert":
        return this.upsert(item, target, p);
      case "ephemeral":
        return poster.ephemeralOnce(item.key, target, p.user, p.msg);
      case "files":
        return this.files(item, target, p);
      case "stream":
        return this.stream(item, target, p);
      case "status":
        return this.status(target, p.status);
    }
  }

  private async upsert(item: DeliveryItem, target: ThreadTarget, p: Extract<Delivery, { kind: "upsert" }>): Promise<void> {
    const { poster } = this.deps;
    const deferred = p.defer === "later" || (p.defer === "thinking" && !this.statusRefused);
    if (deferred && !(await poster.alreadyPosted(item.key, target))) return;
    const hasPlanBlock = p.msg.blocks?.some((b) => b.type === "plan") ?? false;
    const [msg, ...alternatives] =
      hasPlanBlock && this.planBlockRefused ? [...(p.alternatives ?? []), p.msg] : [p.msg, ...(p.alternatives ?? [])];
    const { form } = await poster.upsert(item.key, target, msg as OutgoingMessage, alternatives);
    this.created.add(item.key);
    // A refused plan block is refused everywhere in this workspace: draw the classic card from now on.
    if (hasPlanBlock && !this.planBlockRefused && form > 0) {
      this.planBlockRefused = true;
      this.deps.log.warn("Slack refused the plan block; status cards use the classic layout from now on");
    }
  }

  private async status(target: ThreadTarget, status: string): Promise<void> {
    if (this.statusRefused) return;
    try {
      await this.deps.slack.setStatus(target.channel, target.threadTs, status);
    } catch (err) {
      // The status is a courtesy: never retried (a late one would outlive the plan), never held against the thread.
      const e = err instanceof SlackApiError ? err : undefined;
      if (e && REFUSED.has(e.slackError)) this.statusRefused = true;
      this.deps.log.debug(
        { slackError: e?.slackError, err },
        "could not show the thinking status; the status card shows the state",
      );
    }
  }

  private async stream(item: DeliveryItem, target: ThreadTarget, p: Extract<Delivery, { kind: "stream" }>): Promise<void> {
    const { poster, store, slack, log } = this.deps;
    const end = { blocks: p.end, postKey: item.key };
    const mark = await store.postMark(item.key);
    if (mark?.state === "posted") return;
    if (mark?.state === "pending" && mark.ts) {
      // A stream was started before a crash or a failure: end it, then make its content whole.
      await slack.stopStream(target.channel, mark.ts, end).catch((err: unknown) => {
        if (!(err instanceof SlackApiError && err.slackError === "message_not_in_streaming_state")) throw err;
      });
      await slack.update(target.channel, mark.ts, p.fallback);
      await store.setPostMark(item.key, { state: "posted", channel: target.channel, ts: mark.ts });
      return;
    }
    if (!p.recipient || this.streamRefused) {
      await poster.postOnce(item.key, target, p.fallback);
      return;
    }
    if (await poster.alreadyPosted(item.key, target)) return;
    await store.setPostMark(item.key, { state: "pending", channel: target.channel });
    let started: string | undefined;
    try {
      const ts = await slack.stream({ ...target, ...p.recipient }, p.parts, end, async (ts) => {
        started = ts;
        await store.setPostMark(item.key, { state: "pending", channel: target.channel, ts });
      });
      await store.setPostMark(item.key, { state: "posted", channel: target.channel, ts });
    } catch (err) {
      if (started || !(err instanceof SlackApiError)) throw err;
      if (!REFUSED.has(err.slackError) && !isFormError(err)) throw err;
      // Slack will not stream here (scope, channel type, recipient): post the summary whole.
      if (REFUSED.has(err.slackError)) this.streamRefused = true;
      log.info({ slackError: err.slackError }, "Slack would not stream the summary; posting it whole");
      const ts = await this.postAfterPending(item.key, target, p.fallback);
      await store.setPostMark(item.key, { state: "posted", channel: target.channel, ts });
    }
  }

  /** Posts while this key's mark is already `pending` (nothing of it reached the thread). */
  private async postAfterPending(postKey: string, target: ThreadTarget, msg: OutgoingMessage): Promise<string> {
    await this.deps.store.clearPostMark(postKey);
    return (await this.deps.poster.postOnce(postKey, target, msg)).ts;
  }

  private async files(item: DeliveryItem, target: ThreadTarget, p: Extract<Delivery, { kind: "files" }>): Promise<void> {
    const { store, slack, bus, log } = this.deps;
    const objectKey = (s: FileShare) => `file:${p.taskId}:${s.objectName}`;
    if ((await store.postMark(item.key))?.state === "posted") return;
    // A file another event already shared (a job's plot listed again by its step) is not shared twice.
    const todo: FileShare[] = [];
    for (const s of p.shares) if ((await store.postMark(objectKey(s)))?.state !== "posted") todo.push(s);
    const done = async (ts?: string) => {
      for (const s of todo)
        await store.setPostMark(objectKey(s), { state: "posted", channel: target.channel, ...(ts ? { ts } : {}) });
      await store.setPostMark(item.key, { state: "posted", channel: target.channel, ...(ts ? { ts } : {}) });
    };
    if (todo.length === 0) return done();
    const titles = todo.map((s) => s.title);
    if ((await store.postMark(item.key))?.state === "pending") {
      const found = await slack.findFileShare(target.channel, target.threadTs, titles);
      if (found) return done(found);
    }
    const objects = await bus.objectStore(OBJECT_STORE);
    const files: UploadFile[] = [];
    const missing: FileShare[] = [];
    for (const s of todo) {
      const bytes = await objects.getBlob(s.objectName);
      if (bytes && bytes.length > 0) {
        files.push({ filename: s.filename, title: s.title, bytes, ...(s.altText ? { altText: s.altText } : {}) });
      } else missing.push(s);
    }
    if (missing.length)
      log.warn({ objects: missing.map((m) => m.objectName) }, "artifacts named in an event are not in the Object Store");
    if (files.length === 0) return done();
    await store.setPostMark(item.key, { state: "pending", channel: target.channel });
    try {
      await slack.uploadFiles(target.channel, target.threadTs, files, p.comment);
    } catch (err) {
      if (!(err instanceof SlackApiError) || !err.permanent) throw err;
      // Slack will not take these files (too large for the workspace, uploads off): name them instead.
      log.warn({ slackError: err.slackError }, "Slack refused the upload; listing the files in the thread instead");
      const text = uploadRefusedText(todo, p.source, err.slackError, this.deps.links);
      const ts = await this.postAfterPending(item.key, target, {
        text,
        blocks: [{ type: "section", text: { type: "mrkdwn", text: text.slice(0, 3000) } }],
      });
      return done(ts);
    }
    await done();
  }
}

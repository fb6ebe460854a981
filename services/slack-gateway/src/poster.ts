import type { Logger } from "pino";
import { type OutgoingMessage, type SlackApi, SlackApiError } from "./slack-api.js";
import type { SlackStore } from "./store.js";

/** A task's thread. */
export interface ThreadTarget {
  channel: string;
  threadTs: string;
}

/**
 * Posting that survives redelivery and crashes. Each post has a key (an event id, or a
 * logical id such as `card:<taskId>`); the key is written to KV as `pending` before the post,
 * carried in the message metadata, and recorded as `posted` with its ts afterwards. A `pending`
 * mark found later means a crash in between: the thread is searched for the metadata instead of
 * posting a second time.
 */
export class Poster {
  constructor(
    private readonly slack: SlackApi,
    private readonly store: SlackStore,
    private readonly log: Logger,
  ) {}

  /** Posts `msg` once for `postKey`; later calls return the first post's ts with `created: false`. */
  async postOnce(postKey: string, target: ThreadTarget, msg: OutgoingMessage): Promise<{ ts: string; created: boolean }> {
    const mark = await this.store.postMark(postKey);
    if (mark?.state === "posted" && mark.ts) return { ts: mark.ts, created: false };
    if (mark?.state === "pending") {
      const found = await this.slack.findPosted(target.channel, target.threadTs, postKey);
      if (found) {
        this.log.info({ postKey, ts: found }, "found a message posted before a crash; not posting it again");
        await this.store.setPostMark(postKey, { state: "posted", channel: target.channel, ts: found });
        return { ts: found, created: false };
      }
    }
    await this.store.setPostMark(postKey, { state: "pending", channel: target.channel });
    const ts = await this.slack.post(target.channel, target.threadTs, msg, postKey);
    await this.store.setPostMark(postKey, { state: "posted", channel: target.channel, ts });
    return { ts, created: true };
  }

  /** One message per key, posted the first time and edited in place afterwards (status cards, job progress). */
  async upsert(postKey: string, target: ThreadTarget, msg: OutgoingMessage): Promise<string> {
    const { ts, created } = await this.postOnce(postKey, target, msg);
    if (created) return ts;
    try {
      await this.slack.update(target.channel, ts, msg);
      return ts;
    } catch (err) {
      // Someone deleted the message: post a fresh one rather than lose the updates.
      if (err instanceof SlackApiError && err.slackError === "message_not_found") {
        await this.store.clearPostMark(postKey);
        return (await this.postOnce(postKey, target, msg)).ts;
      }
      throw err;
    }
  }

  /** An ephemeral message, sent at most once per key (Slack cannot look ephemerals up, so no crash recovery). */
  async ephemeralOnce(postKey: string, target: ThreadTarget, user: string, msg: OutgoingMessage): Promise<void> {
    if ((await this.store.postMark(postKey))?.state === "posted") return;
    await this.slack.ephemeral(target.channel, user, target.threadTs, msg);
    await this.store.setPostMark(postKey, { state: "posted", channel: target.channel });
  }
}

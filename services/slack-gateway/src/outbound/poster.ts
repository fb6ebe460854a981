import type { Logger } from "pino";
import { SlackApiError } from "../errors.js";
import { textOnly, truncate } from "../render/blocks.js";
import type { OutgoingMessage, SlackApi } from "../slack-api.js";
import type { SlackStore } from "../store.js";

/** A task's thread. */
export interface ThreadTarget {
  channel: string;
  threadTs: string;
}

/** Slack refused the message's form (blocks or size), not the message: a simpler form may pass. */
const FORM_ERRORS = new Set(["invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long"]);

/** Whether Slack refused this form of the message (so the next, simpler form is worth trying). */
export function isFormError(err: unknown): err is SlackApiError {
  return err instanceof SlackApiError && FORM_ERRORS.has(err.slackError);
}

/**
 * The forms a message may be sent in, richest first: the message, any alternatives the renderer
 * gave (e.g. the classic status card for Slack's plan block), its text alone, and its text cut short.
 */
export function variantsOf(msg: OutgoingMessage, alternatives: readonly OutgoingMessage[] = []): OutgoingMessage[] {
  const plain = textOnly(msg.blocks, msg.text);
  return [msg, ...alternatives, { text: plain }, { text: truncate(plain, 3000) }];
}

/**
 * Posting that survives redelivery and crashes. Each post has a key (an event id, or a
 * logical id such as `card:<taskId>`); the key is written to KV as `pending` before the post,
 * carried in the message metadata, and recorded as `posted` with its ts afterwards. A `pending`
 * mark found later means a crash in between: the thread is searched for the metadata instead of
 * posting a second time. A message Slack refuses for its form (`invalid_blocks`, `msg_too_long`)
 * is sent again in a simpler form, so it is neither lost nor doubled.
 */
export class Poster {
  constructor(
    private readonly slack: SlackApi,
    private readonly store: SlackStore,
    private readonly log: Logger,
  ) {}

  /** Posts `msg` once for `postKey`; later calls return the first post's ts with `created: false`. */
  async postOnce(
    postKey: string,
    target: ThreadTarget,
    msg: OutgoingMessage,
    alternatives: readonly OutgoingMessage[] = [],
  ): Promise<{ ts: string; created: boolean; form?: number }> {
    const found = await this.alreadyPosted(postKey, target);
    if (found) return { ts: found, created: false };
    await this.store.setPostMark(postKey, { state: "pending", channel: target.channel });
    const sent = await this.inSimplerForms(postKey, msg, alternatives, (m) =>
      this.slack.post(target.channel, target.threadTs, m, postKey),
    );
    await this.store.setPostMark(postKey, { state: "posted", channel: target.channel, ts: sent.value });
    return { ts: sent.value, created: true, form: sent.form };
  }

  /** The ts of `postKey`'s message when it is known to be in the thread (its mark, or its metadata after a crash). */
  async alreadyPosted(postKey: string, target: ThreadTarget): Promise<string | null> {
    const mark = await this.store.postMark(postKey);
    if (mark?.state === "posted" && mark.ts) return mark.ts;
    if (mark?.state === "pending") {
      const found = await this.slack.findPosted(target.channel, target.threadTs, postKey);
      if (found) {
        this.log.info({ postKey, ts: found }, "found a message posted before a crash; not posting it again");
        await this.store.setPostMark(postKey, { state: "posted", channel: target.channel, ts: found });
        return found;
      }
    }
    return null;
  }

  /**
   * One message per key, posted the first time and edited in place afterwards (status cards, job
   * progress). `form` is which of the message's forms Slack took (0: the message as given).
   */
  async upsert(
    postKey: string,
    target: ThreadTarget,
    msg: OutgoingMessage,
    alternatives: readonly OutgoingMessage[] = [],
  ): Promise<{ ts: string; form: number }> {
    const { ts, created, form } = await this.postOnce(postKey, target, msg, alternatives);
    if (created) return { ts, form: form ?? 0 };
    try {
      const sent = await this.inSimplerForms(postKey, msg, alternatives, (m) => this.slack.update(target.channel, ts, m));
      return { ts, form: sent.form };
    } catch (err) {
      // Someone deleted the message: post a fresh one rather than lose the updates.
      if (err instanceof SlackApiError && err.slackError === "message_not_found") {
        await this.store.clearPostMark(postKey);
        const again = await this.postOnce(postKey, target, msg, alternatives);
        return { ts: again.ts, form: again.form ?? 0 };
      }
      throw err;
    }
  }

  /** An ephemeral message, sent at most once per key (Slack cannot look ephemerals up, so no crash recovery). */
  async ephemeralOnce(postKey: string, target: ThreadTarget, user: string, msg: OutgoingMessage): Promise<void> {
    if ((await this.store.postMark(postKey))?.state === "posted") return;
    await this.inSimplerForms(postKey, msg, [], (m) => this.slack.ephemeral(target.channel, user, target.threadTs, m));
    await this.store.setPostMark(postKey, { state: "posted", channel: target.channel });
  }

  /** Sends the first form Slack takes; a refusal for any other reason (or of the last form) is thrown. */
  private async inSimplerForms<T>(
    postKey: string,
    msg: OutgoingMessage,
    alternatives: readonly OutgoingMessage[],
    send: (m: OutgoingMessage) => Promise<T>,
  ): Promise<{ value: T; form: number }> {
    const forms = variantsOf(msg, alternatives);
    for (let i = 0; ; i++) {
      const form = forms[i] as OutgoingMessage;
      try {
        return { value: await send(form), form: i };
      } catch (err) {
        if (!isFormError(err) || i === forms.length - 1) throw err;
        this.log.warn(
          { postKey, slackError: err.slackError, form: i },
          "Slack refused this form of the message; sending a simpler one",
        );
      }
    }
  }
}

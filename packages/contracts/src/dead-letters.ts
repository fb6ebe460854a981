import { z } from "zod";
import { Version } from "./common.js";

/**
 * `mllead.q.dead` (from the gateway, for a Slack user) and `mllead.q.dead.cli` (from `pnpm dead`, as the
 * `ops` NATS user): what sits in MLLEAD_DEAD. `list` is newest first, `limit` at a time, from below
 * `before` (a sequence; the newest when omitted); `show`, `replay` and `drop` name one entry by `seq`.
 * On `mllead.q.dead` every action is for MLLEAD_APPROVERS only: payloads may hold people's text.
 */
export const DeadQuery = z.object({
  v: Version,
  /** Who forwarded it: the gateway (`slack`, with `userId`) or the operator's CLI (`cli`). */
  via: z.enum(["slack", "cli"]),
  /** The Slack user who asked (for `via: "slack"`). */
  userId: z.string().max(100).optional(),
  action: z.enum(["list", "show", "replay", "drop"]),
  /** The entry's sequence in MLLEAD_DEAD (show, replay, drop). */
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  /** For `list`: entries below this sequence (the next page). */
  before: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  /** For `list`: how many entries, at most. Default 10. */
  limit: z.number().int().min(1).max(50).default(10),
});
export type DeadQuery = z.infer<typeof DeadQuery>;

/** One set-aside message as `list` shows it. */
export const DeadEntry = z.object({
  seq: z.number().int(),
  /** The durable consumer that set it aside (e.g. `tech-lead-commands`). */
  consumer: z.string(),
  /** Where it was first published: where a replay sends it. */
  subject: z.string(),
  code: z.string(),
  reason: z.string(),
  /** ISO-8601 time it was set aside. */
  at: z.string(),
  /** Payload size in bytes as kept (see `truncatedFrom`). */
  size: z.number().int(),
  deliveries: z.number().int().optional(),
  /** The payload's size before it was cut to fit the dead-letter stream, when it was cut. */
  truncatedFrom: z.number().int().optional(),
});
export type DeadEntry = z.infer<typeof DeadEntry>;

const Fail = z.object({ v: Version, ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) });

export const DeadReply = z.union([
  z.object({
    v: Version,
    ok: z.literal(true),
    action: z.literal("list"),
    entries: z.array(DeadEntry),
    /** How many entries MLLEAD_DEAD holds in all. */
    total: z.number().int(),
    /** Pass as `before` for the next (older) page; absent on the last page. */
    nextBefore: z.number().int().optional(),
  }),
  z.object({
    v: Version,
    ok: z.literal(true),
    action: z.literal("show"),
    entry: DeadEntry.extend({
      msgId: z.string().optional(),
      /** The payload, pretty-printed when it is JSON, cut to `PAYLOAD_SHOWN_MAX` characters. */
      payload: z.string(),
      /** True when `payload` was cut for showing. */
      cut: z.boolean(),
    }),
  }),
  z.object({
    v: Version,
    ok: z.literal(true),
    action: z.enum(["replay", "drop"]),
    seq: z.number().int(),
    /** For a replay: where it was published again, and with which msg id (`replay:<seq>`). */
    subject: z.string().optional(),
    msgId: z.string().optional(),
  }),
  Fail,
]);
export type DeadReply = z.infer<typeof DeadReply>;

/** The longest payload `show` returns (characters): it must fit an ephemeral Slack message with the rest. */
export const PAYLOAD_SHOWN_MAX = 2500;

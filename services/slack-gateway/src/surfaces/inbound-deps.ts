import type { Bus } from "@mllead/bus";
import type { Logger } from "pino";
import type { Poster } from "../outbound/poster.js";
import type { MlleadContext } from "../slack-input.js";
import type { SlackStore } from "../store.js";

export interface InboundDeps {
  bus: Bus;
  store: SlackStore;
  poster: Poster;
  log: Logger;
  now?: () => Date;
  /** MLLEAD_AGENTS_DIR, for `/mllead agents` and the Home tab. */
  agentsDir?: string;
}

/** The fields of a message-like event the gateway reads (Bolt's union of message subtypes is wider). */
export interface MessageLike {
  type: string;
  user?: string;
  bot_id?: string;
  subtype?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  channel: string;
}

/** What the receiver attached to Bolt's context (see FastifyReceiver); empty in Socket Mode. */
export function mlleadContext(context: Record<string, unknown>): MlleadContext {
  const m = context.mllead;
  return typeof m === "object" && m !== null ? (m as MlleadContext) : {};
}

/** The answer to a text longer than mllead takes: the person learns the limit instead of getting half a task. */
export function tooLongText(length: number, limit: number): string {
  return (
    `That message is ${length.toLocaleString("en-US")} characters long; @mllead takes up to ${limit.toLocaleString("en-US")}. ` +
    "Nothing was started. Please mention me again with a shorter request — put long details in a file or a follow-up reply."
  );
}

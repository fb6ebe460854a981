import type { Bus, InvalidMessageError } from "@mllead/bus";
import {
  CONSUMERS,
  type DeadEntry,
  type DeadQuery,
  DeadQuery as DeadQuerySchema,
  DeadReply,
  PAYLOAD_SHOWN_MAX,
  SUBJECTS,
} from "@mllead/contracts";
import type { Logger } from "pino";
import { z } from "zod";
import { type DeadLetter, DeadLetterStream } from "./dead-letter-stream.js";
import { failedReply, messageOf } from "./errors.js";

/** What the dead-letter desk works with: the bus, who may act for Slack users, the log. */
export interface DeadLetterDeskDeps {
  bus: Pick<Bus, "serve" | "streamMessage" | "deleteStreamMessage" | "streamState" | "publish">;
  /** MLLEAD_APPROVERS: the Slack users who may list, show, replay and drop. */
  approvers: readonly string[];
  log: Logger;
}

/** Where each consumer that sets aside reads from: a replay goes back only to a subject its consumer reads. */
const REPLAYABLE: Record<string, string> = {
  [CONSUMERS.techLeadCommands.durable]: CONSUMERS.techLeadCommands.filterSubject,
  [CONSUMERS.techLeadResults.durable]: CONSUMERS.techLeadResults.filterSubject,
};

/** NATS subject matching (`*` one token, `>` the rest). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (s[i] === undefined || (f[i] !== "*" && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

/** Why the caller may not use the desk, or null. Requests on the ops subject come from the operator's CLI user. */
export function deadLetterRefusal(q: DeadQuery, operator: boolean, approvers: readonly string[]): string | null {
  if (operator) return null;
  if (q.via !== "slack") return "the CLI asks on mllead.q.dead.cli, as the ops NATS user";
  if (approvers.length === 0) {
    return "no approvers are configured, so nobody may read or replay dead letters from Slack; set MLLEAD_APPROVERS (Slack user ids) for the tech lead, or use `pnpm dead` on the server";
  }
  if (!q.userId || !approvers.includes(q.userId)) return "only approvers (MLLEAD_APPROVERS) may see or act on dead letters";
  return null;
}

const summary = ({ data: _data, msgId: _msgId, ...entry }: DeadLetter): DeadEntry => entry;

/** The payload as JSON, or why it is not JSON (an invalid message is set aside as it came). */
function parsed(data: Uint8Array): { value: unknown } | { notJson: string } {
  try {
    return { value: JSON.parse(Buffer.from(data).toString("utf8")) };
  } catch (err) {
    return { notJson: messageOf(err) };
  }
}

/** The payload for people: pretty JSON when it parses, text otherwise; cut to PAYLOAD_SHOWN_MAX. */
function shown(data: Uint8Array): { payload: string; cut: boolean } {
  const p = parsed(data);
  const pretty = "value" in p ? JSON.stringify(p.value, null, 2) : Buffer.from(data).toString("utf8");
  return pretty.length > PAYLOAD_SHOWN_MAX
    ? { payload: pretty.slice(0, PAYLOAD_SHOWN_MAX), cut: true }
    : { payload: pretty, cut: false };
}

/** The payload a replay publishes again, or why it cannot be replayed. */
function replayable(letter: DeadLetter): { payload: unknown } | { why: string } {
  if (letter.truncatedFrom !== undefined) return { why: `it was cut from ${letter.truncatedFrom} bytes when set aside` };
  const filter = REPLAYABLE[letter.consumer];
  if (!filter || !subjectMatches(filter, letter.subject)) {
    return { why: `its subject '${letter.subject}' is not one that ${letter.consumer} reads` };
  }
  const p = parsed(letter.data);
  return "value" in p
    ? { payload: p.value }
    : { why: `its payload is not JSON (${p.notJson}); its consumer would set it aside again` };
}

const notFound = (seq: number) =>
  failedReply(
    "no_such_dead_letter",
    `MLLEAD_DEAD has no entry ${seq} (replayed, dropped or aged out?); list them with \`dead list\``,
  );

/** Answers one request (never throws: a failure is an `ok: false` reply). */
async function answer(deps: DeadLetterDeskDeps, stream: DeadLetterStream, q: DeadQuery, operator: boolean): Promise<DeadReply> {
  const no = deadLetterRefusal(q, operator, deps.approvers);
  if (no) return failedReply("dead_letters_not_allowed", no);
  const log = deps.log.child({ deadLetters: q.action, seq: q.seq, by: operator ? "ops" : q.userId });
  try {
    if (q.action === "list") {
      const page = await stream.page({ limit: q.limit, ...(q.before ? { before: q.before } : {}) });
      return { v: 1, ok: true, action: "list", ...page, entries: page.entries.map(summary) };
    }
    if (q.seq === undefined) return failedReply("no_such_dead_letter", `say which entry: \`dead ${q.action} <seq>\``);
    const letter = await stream.get(q.seq);
    if (!letter) return notFound(q.seq);
    switch (q.action) {
      case "show":
        return {
          v: 1,
          ok: true,
          action: "show",
          entry: { ...summary(letter), ...(letter.msgId ? { msgId: letter.msgId } : {}), ...shown(letter.data) },
        };
      case "drop":
        if (!(await stream.remove(q.seq))) return notFound(q.seq);
        log.info({ consumer: letter.consumer, subject: letter.subject }, "dead letter dropped");
        return { v: 1, ok: true, action: "drop", seq: q.seq };
      case "replay": {
        const r = replayable(letter);
        if ("why" in r) return failedReply("dead_letter_not_replayable", `entry ${q.seq} cannot be replayed: ${r.why}`);
        // A new msg id: the original's is inside the stream's duplicate window and would be dropped as a duplicate.
        const msgId = `replay:${q.seq}`;
        await deps.bus.publish(letter.subject, z.unknown(), r.payload, msgId);
        await stream.remove(q.seq);
        log.info({ consumer: letter.consumer, subject: letter.subject, msgId }, "dead letter replayed");
        return { v: 1, ok: true, action: "replay", seq: q.seq, subject: letter.subject, msgId };
      }
      default: {
        const never: never = q.action;
        return never;
      }
    }
  } catch (err) {
    log.error({ err }, "dead-letter request failed");
    return failedReply("dead_letters_failed", `MLLEAD_DEAD could not be read or changed: ${messageOf(err)}`);
  }
}

/** A request that does not parse is answered with its own code (`invalid_message`) and reason. */
const invalid = (e: InvalidMessageError) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } });

/**
 * Serves `mllead.q.dead` (Slack users, forwarded by the gateway: approvers only) and `mllead.q.dead.cli`
 * (the operator's `pnpm dead`, which only the ops NATS user may publish): list, show, replay, drop.
 */
export async function serveDeadLetters(deps: DeadLetterDeskDeps): Promise<void> {
  const stream = new DeadLetterStream(deps.bus);
  await deps.bus.serve(SUBJECTS.deadQuery, DeadQuerySchema, DeadReply, (q) => answer(deps, stream, q, false), invalid);
  await deps.bus.serve(SUBJECTS.deadOpsQuery, DeadQuerySchema, DeadReply, (q) => answer(deps, stream, q, true), invalid);
}

import { blocksOf } from "./cache.js";
import { ApiError, invalid } from "./errors.js";
import type { MessageParam, ReplyMessage, RequestBody, StopReason, ToolDef } from "./types.js";
import { THREADS_BETA } from "./validate.js";

/** What the server holds for a conversation: the create-only fields and the full history. */
export interface Held {
  system: RequestBody["system"];
  tools: ToolDef[];
  messages: MessageParam[];
}

/** The conversation a request stands for, its thread resolved. */
export interface Resolved extends Held {
  /** The reply id this request continues from, for a `continue`. */
  continues?: string;
  /** A continue after `pause_turn` may send no messages: the server resumes the unfinished turn. */
  allowEmpty: boolean;
}

/**
 * Consecutive messages of one role as one: the API combines them into a single turn, which is also how a turn
 * resumed after `pause_turn` joins the reply it continues.
 */
export function mergeTurns(messages: MessageParam[]): MessageParam[] {
  const out: MessageParam[] = [];
  for (const m of messages) {
    const prev = out.at(-1);
    // Only well-formed contents are combined; validation reports the others.
    const ok = (c: unknown) => typeof c === "string" || Array.isArray(c);
    if (prev && prev.role === m.role && ok(prev.content) && ok(m.content)) {
      const blocks = (c: MessageParam["content"]) => (c.length ? blocksOf(c) : []);
      out[out.length - 1] = { role: m.role, content: [...blocks(prev.content), ...blocks(m.content)] };
    } else {
      out.push(m);
    }
  }
  return out;
}

/**
 * Server-held threads (beta `message-threads-2026-08-12`), by the id of the reply a thread can continue from.
 * A reply can be continued once; a continue of an unknown id gets `thread_not_found`, of a continued one
 * `thread_already_continued`, and one while another continue of the same id runs `thread_continue_in_flight`,
 * the `error.details.error_code`s the SDK recovers from by replaying the history under a new thread.
 */
export class ThreadStore {
  #held = new Map<string, Held & { continued: boolean; stopReason: StopReason }>();
  #inFlight = new Set<string>();

  resolve(body: RequestBody, betas: string[]): Resolved {
    const sent = body.messages as MessageParam[];
    const thread = body.thread ?? null;
    const fresh = { system: body.system, tools: body.tools ?? [], messages: mergeTurns(sent), allowEmpty: false };
    if (!thread) return fresh;
    if (!betas.includes(THREADS_BETA)) {
      throw invalid(`thread: this field requires the \`anthropic-beta: ${THREADS_BETA}\` header`);
    }
    if (thread.type === "create") return fresh;
    for (const field of ["system", "tools"] as const) {
      if (body[field] !== undefined) {
        throw invalid(
          `${field}: not allowed with \`thread.type: "continue"\`; the thread keeps the ${field} it was created with`,
        );
      }
    }
    const id = thread.previous_message_id;
    const held = this.#held.get(id);
    if (!held) {
      throw new ApiError(404, "not_found_error", `thread: no thread state found for previous_message_id ${id}`, {
        error_code: "thread_not_found",
      });
    }
    if (held.continued) {
      throw invalid(`thread: the response ${id} has already been continued; continue from the thread's most recent response`, {
        error_code: "thread_already_continued",
      });
    }
    if (this.#inFlight.has(id)) {
      throw invalid(`thread: another request is still continuing from ${id}`, { error_code: "thread_continue_in_flight" });
    }
    return {
      system: held.system,
      tools: held.tools,
      messages: mergeTurns([...held.messages, ...sent]),
      continues: id,
      allowEmpty: held.stopReason === "pause_turn",
    };
  }

  /** Marks a continue of `id` in flight until `end(id)`. */
  begin(id: string | undefined): void {
    if (id) this.#inFlight.add(id);
  }

  end(id: string | undefined): void {
    if (id) this.#inFlight.delete(id);
  }

  /** Holds the conversation and its reply under the reply's id, and uses up the reply it continued. */
  save(conv: Resolved, reply: ReplyMessage): void {
    if (conv.continues) {
      const prev = this.#held.get(conv.continues);
      if (prev) prev.continued = true;
    }
    this.#held.set(reply.id, {
      system: conv.system,
      tools: conv.tools,
      messages: mergeTurns([...conv.messages, { role: "assistant", content: reply.content }]),
      continued: false,
      stopReason: reply.stop_reason,
    });
  }

  /** Forgets every thread, as a server that lost its state would. */
  clear(): void {
    this.#held.clear();
  }
}

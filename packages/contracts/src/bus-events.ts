import type { z } from "zod";
import { TaskEvent } from "./events.js";
import { STREAMS, SUBJECTS } from "./subjects.js";

/**
 * What the task-event helpers need of a bus. `Bus` of `@mllead/bus` has it: contracts import no bus, and the
 * bus knows no task event; a service hands its bus to these helpers.
 */
export interface EventBus {
  publish<S extends z.ZodType>(subject: string, schema: S, payload: z.input<S>, msgId?: string): Promise<unknown>;
  lastMessage<S extends z.ZodType>(stream: string, subject: string, schema: S): Promise<z.output<S> | null>;
  waitForLast<S extends z.ZodType>(
    stream: string,
    subject: string,
    schema: S,
    opts: { timeoutMs: number; pollMs?: number; signal?: AbortSignal },
  ): Promise<z.output<S> | null>;
}

/** Publishes a task event on its subject (`SUBJECTS.event`), with its eventId as msgID (a replay is dropped). */
export async function emitEvent(bus: Pick<EventBus, "publish">, event: TaskEvent): Promise<void> {
  await bus.publish(SUBJECTS.event(event), TaskEvent, event, event.eventId);
}

/**
 * The last event stored on an exact subject, or null when there is none. Used to re-attach after a crash.
 * Throws on any other failure, and an InvalidMessageError (`@mllead/bus`) when the stored event does not parse.
 */
export async function lastEvent(bus: Pick<EventBus, "lastMessage">, subject: string): Promise<TaskEvent | null> {
  return bus.lastMessage(STREAMS.events.name, subject, TaskEvent);
}

/**
 * Waits for an event on an exact subject: the last one stored there as soon as there is one, or null once
 * `timeoutMs` passed or `signal` aborted (see `Bus.waitForLast`). Creates no consumer.
 */
export async function waitForEvent(
  bus: Pick<EventBus, "waitForLast">,
  subject: string,
  opts: { timeoutMs: number; pollMs?: number; signal?: AbortSignal },
): Promise<TaskEvent | null> {
  return bus.waitForLast(STREAMS.events.name, subject, TaskEvent, opts);
}

import type { SetAsideMessage } from "@mllead/bus";
import { Decision, type EventBus, emitEvent, Id, isTerminal, SUBJECTS, type TaskEvent } from "@mllead/contracts";
import type { Logger } from "pino";
import { z } from "zod";
import { failTask } from "./orchestrator.js";
import type { QuarantinedRecord, TaskStore } from "./task-store.js";

/** The little a set-aside message must still say for its thread to be found; nothing else is trusted. */
const AboutTask = z.looseObject({ taskId: Id, stepId: Id.optional(), type: z.string().max(50).optional() });
const AboutDecision = z.looseObject({ taskId: Id, userId: z.string().min(1).max(100), decision: Decision });

/** The set-aside message's JSON, or undefined when it is not JSON (then it names no task). */
function readJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

function tries(n: number): string {
  return n === 1 ? "1 try" : `${n} tries`;
}

/** What the thread teller writes through. */
export interface ThreadTellerDeps {
  bus: Pick<EventBus, "publish">;
  store: Pick<TaskStore, "get" | "update">;
  log: Logger;
  now: () => string;
}

/**
 * Fails the task in its record; where there is no record (or it cannot be read or written), says so
 * with a `task.failed` event alone, its id made from `eventKey` (so a repeat publishes nothing twice).
 */
async function failTaskInThread(
  deps: ThreadTellerDeps,
  what: { taskId: string; reason: string; eventKey: string },
  log: Logger,
): Promise<void> {
  const { store, now } = deps;
  const { taskId, reason, eventKey } = what;
  try {
    const existing = await store.get(taskId);
    if (existing && isTerminal(existing.state)) return;
    if (existing) {
      const failed = await store.update(taskId, (t) => (isTerminal(t.state) ? null : failTask(t, reason, now())));
      if (failed) return;
    }
  } catch (err) {
    log.warn({ err, taskId }, "could not fail the task in its record; telling its thread directly");
  }
  const event: TaskEvent = {
    v: 1,
    eventId: `${taskId}.${eventKey}.task.failed`,
    taskId,
    at: now(),
    type: "task.failed",
    reason: reason.slice(0, 2000),
  };
  await emitEvent(deps.bus, event);
}

/**
 * Says in a task's thread that something about it was set aside, so nobody waits for an answer
 * that will never come: a create or a step report that cannot be applied fails the task (with
 * the reason); a decision that cannot be applied is refused to the person who made it. A
 * malformed message (which anyone could publish) never ends a task that exists.
 */
export function threadTeller(deps: ThreadTellerDeps) {
  const { bus, store, now } = deps;
  const failInThread = (taskId: string, reason: string, eventKey: string, log: Logger) =>
    failTaskInThread(deps, { taskId, reason, eventKey }, log);

  return {
    /** For `ConsumeOptions.deadLetter.onSetAside`. */
    async setAside(letter: SetAsideMessage, log: Logger): Promise<void> {
      const raw = readJson(letter.data);
      const about = AboutTask.safeParse(raw);
      if (!about.success) {
        log.warn({ subject: letter.subject }, "the set-aside message names no task; nobody to tell");
        return;
      }
      const { taskId } = about.data;
      const why = `${letter.reason} (set aside after ${tries(letter.deliveries)}; kept for an operator in ${SUBJECTS.deadLetter(letter.consumer)})`;
      const eventKey = `set-aside.${letter.stream}.${letter.streamSeq}`;
      if (letter.subject === SUBJECTS.taskDecide) {
        const d = AboutDecision.safeParse(raw);
        if (!d.success) return;
        await emitEvent(bus, {
          v: 1,
          eventId: `${taskId}.${eventKey}.task.decision_rejected`,
          taskId,
          at: now(),
          type: "task.decision_rejected",
          userId: d.data.userId,
          decision: d.data.decision,
          reason: `It could not be applied: ${why}`.slice(0, 500),
        });
        return;
      }
      // A malformed message never was a real create or report: it must not end a task that exists.
      const malformed = letter.code === "invalid_message";
      if (letter.subject === SUBJECTS.taskCreate) {
        // A task that cannot be read is not ended either: the error reaches the bus, which logs it.
        if (malformed && (await store.get(taskId))) return;
        await failInThread(taskId, `I could not take this task on: ${why}`, eventKey, log);
        return;
      }
      if (malformed) {
        log.warn({ taskId }, "a malformed step report was set aside; the task waits for a valid one");
        return;
      }
      const step = about.data.stepId ? ` of step \`${about.data.stepId}\`` : "";
      await failInThread(taskId, `A report${step} (${about.data.type ?? "event"}) could not be applied: ${why}`, eventKey, log);
    },

    /** For `TaskStore`'s `onQuarantine`: the task cannot go on from a record nobody can read. */
    async quarantined(q: QuarantinedRecord): Promise<void> {
      if (!Id.safeParse(q.key).success) return;
      await failInThread(
        q.key,
        `This task's stored record was damaged (${q.reason.slice(0, 500)}) and was set aside for an operator. Mention @mllead again to start over.`,
        `quarantined.${q.revision}`,
        deps.log,
      );
    },
  };
}

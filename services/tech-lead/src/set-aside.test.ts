import type { SetAsideMessage } from "@mllead/bus";
import { type EventBus, SUBJECTS, type TaskEvent, type TaskRecord } from "@mllead/contracts";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { threadTeller } from "./set-aside.js";

const log = pino({ level: "silent" });
const NOW = "2026-12-07T10:00:00.000Z";

/** A teller over a store whose reads fail as NATS would (a timeout), and a bus that keeps what it is given. */
function tellerOverUnreadableStore() {
  const published: TaskEvent[] = [];
  const bus: Pick<EventBus, "publish"> = {
    publish: async (_subject, _schema, payload) => {
      published.push(payload as TaskEvent);
    },
  };
  const unreadable = async (): Promise<TaskRecord | null> => {
    throw new Error("TIMEOUT: the KV read timed out");
  };
  const teller = threadTeller({ bus, store: { get: unreadable, update: unreadable }, log, now: () => NOW });
  return { teller, published };
}

function letter(subject: string, code: string, data: string): SetAsideMessage {
  return {
    stream: "MLLEAD_COMMANDS",
    consumer: "tech-lead-commands",
    subject,
    streamSeq: 7,
    deliveries: 5,
    msgId: undefined,
    code,
    reason: "it kept failing",
    data: new TextEncoder().encode(data),
    at: NOW,
  };
}

describe("telling a thread what was set aside, when the task store cannot be read", () => {
  it("a malformed create never ends the task: the read's error reaches the bus and nothing is published", async () => {
    const { teller, published } = tellerOverUnreadableStore();
    const malformed = letter(SUBJECTS.taskCreate, "invalid_message", JSON.stringify({ taskId: "t1", text: 42 }));
    await expect(teller.setAside(malformed, log)).rejects.toThrow("TIMEOUT");
    expect(published).toEqual([]);
  });

  it("a create that kept failing is told in its thread with a task.failed of its own id", async () => {
    const { teller, published } = tellerOverUnreadableStore();
    await teller.setAside(letter(SUBJECTS.taskCreate, "handler_failed", JSON.stringify({ taskId: "t1" })), log);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      type: "task.failed",
      taskId: "t1",
      eventId: "t1.set-aside.MLLEAD_COMMANDS.7.task.failed",
    });
  });

  it("a message that is not JSON names no task: nobody is told", async () => {
    const { teller, published } = tellerOverUnreadableStore();
    await teller.setAside(letter(SUBJECTS.taskCreate, "invalid_message", "{not json"), log);
    expect(published).toEqual([]);
  });
});

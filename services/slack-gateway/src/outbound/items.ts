import type { Delivery } from "./deliver.js";
import type { OutboxItem, Priority } from "./outbox.js";

/** An outbox item for a task's thread, before the outbox gives it its place (seq, attempts) and the thread. */
export type NewItem = Omit<OutboxItem<Delivery>, "seq" | "attempts" | "channel" | "threadTs">;

/** Keys of the messages that are edited in place. */
export const postKeys = {
  statusCard: (taskId: string) => `card:${taskId}`,
  job: (jobId: string) => `job:${jobId}`,
  files: (eventId: string) => `files:${eventId}`,
  status: (eventId: string) => `status:${eventId}`,
};

/** A message posted once, in the thread's order. */
export const post = (key: string, priority: Priority, payload: Delivery): NewItem => ({
  key,
  priority,
  ordered: true,
  coalesce: false,
  payload,
});

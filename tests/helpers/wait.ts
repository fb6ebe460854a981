import type { Bus } from "@mllead/bus";
import { rawNats } from "@mllead/bus/testing";
import { STREAMS, SUBJECTS, TaskEvent } from "@mllead/contracts";
import { DeliverPolicy } from "@nats-io/jetstream";

/** Polls until `check` holds (default 20 s), then returns; throws with `what` otherwise. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Every event of a task, as they are stored in the events stream (an ordered consumer from the start). */
export async function collectEvents(bus: Bus, taskId: string): Promise<TaskEvent[]> {
  const out: TaskEvent[] = [];
  const consumer = await rawNats(bus).js.consumers.get(STREAMS.events.name, {
    // A string, not an array: nats-server 2.9 has no multi-filter consumers.
    filter_subjects: SUBJECTS.taskEvents(taskId),
    deliver_policy: DeliverPolicy.All,
  });
  const messages = await consumer.consume();
  void (async () => {
    for await (const m of messages) out.push(TaskEvent.parse(m.json()));
  })();
  return out;
}

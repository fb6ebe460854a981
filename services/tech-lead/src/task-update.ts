import type { TaskRecord } from "@mllead/contracts";
import type { Counter } from "prom-client";
import type { TaskStore } from "./task-store.js";

/**
 * Changes a task with compare-and-swap and publishes its outbox; `fn` returns null for "no change".
 * Resolves to the record after the change (null when the task does not exist).
 */
export type UpdateTask = (id: string, fn: (t: TaskRecord) => TaskRecord | null) => Promise<TaskRecord | null>;

/** `store.update` that counts, in `transitions`, each state a change leads to. */
export function countedUpdate(store: Pick<TaskStore, "update">, transitions: Counter<"state">): UpdateTask {
  return async (id, fn) => {
    let before: TaskRecord["state"] | undefined;
    const out = await store.update(id, (t) => {
      before = t.state;
      return fn(t);
    });
    if (out && out.state !== before) transitions.inc({ state: out.state });
    return out;
  };
}

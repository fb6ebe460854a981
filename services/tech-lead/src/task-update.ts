import type { TaskRecord, Usage } from "@mllead/contracts";
import type { Counter } from "prom-client";
import type { TaskStore } from "./task-store.js";

/**
 * Changes a task with compare-and-swap and publishes its outbox; `fn` returns null for "no change".
 * Resolves to the record after the change (null when the task does not exist).
 */
export type UpdateTask = (id: string, fn: (t: TaskRecord) => TaskRecord | null) => Promise<TaskRecord | null>;

/** The counters `countedUpdate` moves. */
export interface UpdateCounters {
  transitions: Counter<"state">;
  claudeCost: Counter;
  claudeTokens: Counter<"kind">;
}

const TOKEN_KINDS = {
  input: "inputTokens",
  output: "outputTokens",
  cache_read: "cacheReadTokens",
  cache_write: "cacheWriteTokens",
} as const satisfies Record<string, keyof Usage>;

/**
 * `store.update` that counts, in `transitions`, each state a change leads to, and the Claude cost and tokens the
 * change added to the task's total. Counted from the record as stored, once the write went through: a draft that
 * lost a compare-and-swap race and was made again is not counted twice.
 */
export function countedUpdate(store: Pick<TaskStore, "update">, counters: UpdateCounters): UpdateTask {
  return async (id, fn) => {
    let before: TaskRecord | undefined;
    const out = await store.update(id, (t) => {
      before = t;
      return fn(t);
    });
    if (!out || !before) return out;
    if (out.state !== before.state) counters.transitions.inc({ state: out.state });
    const spent = (out.usage?.costUsd ?? 0) - (before.usage?.costUsd ?? 0);
    if (spent > 0) counters.claudeCost.inc(spent);
    for (const [kind, field] of Object.entries(TOKEN_KINDS)) {
      const added = (out.usage?.[field] ?? 0) - (before.usage?.[field] ?? 0);
      if (added > 0) counters.claudeTokens.inc({ kind }, added);
    }
    return out;
  };
}

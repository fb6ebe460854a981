import { isTerminal, type StatusQuery, type StatusReply, type TaskRecord, toTaskView } from "@mllead/contracts";
import type { Logger } from "pino";
import { failedReply, messageOf } from "./errors.js";
import type { TaskStore } from "./task-store.js";

/** True when a task concerns whoever asked: it lives in the channel they asked from, or they asked for it. */
export function concerns(task: TaskRecord, q: Pick<StatusQuery, "channel" | "userId">): boolean {
  return (
    (q.channel !== undefined && task.slack.channel === q.channel) ||
    (q.userId !== undefined && task.requester.userId === q.userId)
  );
}

/**
 * The answer to `/mllead status`: the caller's tasks and those of the channel they asked from
 * (never another channel's text or link), active first, then the most recent finished ones.
 * Never throws: a failure is an `ok: false` reply the gateway shows as a sentence.
 */
export async function answerStatus(store: TaskStore, q: StatusQuery, log: Logger): Promise<StatusReply> {
  try {
    const tasks = (await store.all()).filter((t) => concerns(t, q)).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    return {
      v: 1,
      ok: true,
      active: tasks.filter((t) => !isTerminal(t.state)).map(toTaskView),
      recent: tasks
        .filter((t) => isTerminal(t.state))
        .slice(0, q.recent)
        .map(toTaskView),
    };
  } catch (err) {
    log.error({ err }, "status query failed");
    return failedReply("status_failed", `the task list could not be read (${messageOf(err)})`);
  }
}

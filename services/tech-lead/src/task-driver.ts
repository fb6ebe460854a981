import { inSpan, withTrace } from "@mllead/bus";
import { isTerminal, type TaskRecord } from "@mllead/contracts";
import type { KeyedQueue } from "@mllead/service-kit";
import type { Logger } from "pino";
import { eachLimited } from "./each-limited.js";
import { brainCallDue } from "./lead-failures.js";
import { needsPlan, needsSummary } from "./orchestrator.js";
import type { RetryTimers } from "./retry-timers.js";
import type { TaskStore } from "./task-store.js";

/** What the driver works with. */
export interface TaskDriverDeps {
  store: Pick<TaskStore, "get" | "all" | "flush">;
  /** One task's work runs one at a time, in order; different tasks run at once. */
  queue: KeyedQueue;
  retries: Pick<RetryTimers, "armFor">;
  writePlan: (task: TaskRecord) => Promise<void>;
  writeSummary: (task: TaskRecord) => Promise<void>;
  now: () => string;
  log: Logger;
}

/** Plans or summaries one `drive` writes at most: each moves the task on, so this only guards against a loop. */
const MAX_DRIVE_ROUNDS = 5;

/** Moves tasks on by themselves: writes the plan or summary a task waits for, now, after a retry or after a crash. */
export class TaskDriver {
  constructor(private readonly deps: TaskDriverDeps) {}

  /** Plans or summarises whatever the task is waiting for. Run it in the task's queue. */
  async drive(taskId: string): Promise<void> {
    const { store, now } = this.deps;
    for (let i = 0; i < MAX_DRIVE_ROUNDS; i++) {
      const task = await store.get(taskId);
      if (!task) return;
      // A failed call waits for its automatic retry (armed here, also after a restart) or for a person's `retry`.
      if (!isTerminal(task.state) && !brainCallDue(task, now())) {
        this.deps.retries.armFor(task);
        return;
      }
      const write = needsPlan(task) ? "plan" : needsSummary(task) ? "summary" : null;
      if (!write) return;
      // A resumed task (a retry timer, a restart) has no trace in hand: its record names it.
      await withTrace(task.trace, () =>
        inSpan(`write ${write}`, { attributes: { "mllead.task.id": task.id, "mllead.task.revision": task.revision } }, () =>
          write === "plan" ? this.deps.writePlan(task) : this.deps.writeSummary(task),
        ),
      );
    }
  }

  /** Drives the task in its queue, in the background; a failure is logged with `what` was being done. */
  resume(taskId: string, what: string): Promise<void> {
    return this.deps.queue
      .run(taskId, () => this.drive(taskId))
      .catch((err: unknown) => this.deps.log.error({ err, taskId }, what));
  }

  /**
   * After a crash: publishes what was written but not sent, then resumes every unfinished task (at most
   * `concurrency` at once). Resolves once the outboxes are flushed; the returned promise settles when the
   * resumed tasks have, so a slow plan never delays start-up.
   */
  async recover(concurrency: number): Promise<{ resumed: Promise<void> }> {
    const { store, log } = this.deps;
    const live: string[] = [];
    for (const t of await store.all()) {
      try {
        if (t.outbox.length > 0) await store.flush(t.id);
      } catch (err) {
        log.error({ err, taskId: t.id }, "could not publish a task's outbox at start-up; its next change retries");
      }
      if (!isTerminal(t.state)) live.push(t.id);
    }
    return { resumed: eachLimited(live, concurrency, (id) => this.resume(id, "could not resume a task")) };
  }
}

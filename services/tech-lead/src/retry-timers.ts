import type { TaskRecord } from "@mllead/contracts";

/**
 * One timer per task for its scheduled automatic retry (a Claude call that met an overloaded API). The
 * time is kept in the task record too, so a restarted tech lead arms it again when it resumes the task.
 */
export class RetryTimers {
  private readonly timers = new Map<string, { at: string; timer: NodeJS.Timeout }>();

  /** @param run Called with the task id when its retry is due. */
  constructor(private readonly run: (taskId: string) => void) {}

  /** Runs the task's retry at `at` (ISO time); re-arming for the same time is a no-op. */
  arm(taskId: string, at: string): void {
    const existing = this.timers.get(taskId);
    if (existing?.at === at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(taskId);
        this.run(taskId);
      },
      Math.max(0, Date.parse(at) - Date.now()),
    );
    // The bus connection keeps the process alive; a pending retry alone should not.
    timer.unref();
    this.timers.set(taskId, { at, timer });
  }

  /** Schedules the task's automatic retry, when its record has one (a null record schedules nothing). */
  armFor(task: TaskRecord | null): void {
    const at = task?.brainFailure?.retryAt;
    if (task && at) this.arm(task.id, at);
  }

  /** Clears every timer (on shutdown; the records keep the times). */
  stop(): void {
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

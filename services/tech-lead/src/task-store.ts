import type { Bus, TypedKv } from "@mllead/bus";
import { BUCKETS, TaskRecord } from "@mllead/contracts";
import type { Logger } from "pino";

/**
 * Tasks in KV, written only by the tech lead, always with compare-and-swap.
 * Every write carries its outbox; `flush` publishes it (deduplicated by msgID)
 * and then removes what was sent — so a crash between the write and the
 * publish loses nothing and a replay publishes nothing twice.
 */
export class TaskStore {
  private constructor(
    private readonly kv: TypedKv<typeof TaskRecord>,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  static async open(bus: Bus, log: Logger): Promise<TaskStore> {
    return new TaskStore(await bus.kv(BUCKETS.tasks, TaskRecord), bus, log);
  }

  async get(id: string): Promise<TaskRecord | null> {
    return (await this.kv.get(id))?.value ?? null;
  }

  /** Stores a new task unless one with its id exists; returns the stored one either way. */
  async create(task: TaskRecord): Promise<TaskRecord> {
    const rev = await this.kv.create(task.id, task);
    const stored = rev === null ? await this.get(task.id) : task;
    await this.flush(task.id);
    return stored as TaskRecord;
  }

  /** Applies `fn` with compare-and-swap (retrying on a race), then flushes. `fn` returns null for "no change". */
  async update(id: string, fn: (t: TaskRecord) => TaskRecord | null): Promise<TaskRecord | null> {
    const out = await this.kv.mutate(id, fn);
    await this.flush(id);
    return out?.value ?? null;
  }

  /** Publishes the task's outbox in order, then drops the published entries. */
  async flush(id: string): Promise<void> {
    const task = await this.get(id);
    if (!task || task.outbox.length === 0) return;
    const sent = new Set<string>();
    for (const m of task.outbox) {
      await this.bus.publishRaw(m.subject, m.payload, m.msgId);
      sent.add(m.msgId);
    }
    await this.kv.mutate(id, (t) => {
      const rest = t.outbox.filter((m) => !sent.has(m.msgId));
      return rest.length === t.outbox.length ? null : { ...t, outbox: rest };
    });
    this.log.debug({ taskId: id, published: sent.size }, "outbox flushed");
  }

  async all(): Promise<TaskRecord[]> {
    const out: TaskRecord[] = [];
    for (const key of await this.kv.keys()) {
      const t = await this.get(key);
      if (t) out.push(t);
    }
    return out;
  }
}

import { type Bus, InvalidRecordError, type TypedKv, type Versioned, withTrace } from "@mllead/bus";
import { BUCKET_SPECS, BUCKETS, TaskRecord, Timestamp } from "@mllead/contracts";
import type { Logger } from "pino";
import { z } from "zod";
import { TechLeadError } from "./errors.js";

/** A task record that did not parse, as kept in `mllead_tasks_quarantine` under `<taskId>.<revision>`. */
export const QuarantinedRecord = z.object({
  key: z.string(),
  revision: z.number().int().nonnegative(),
  reason: z.string(),
  quarantinedAt: Timestamp,
  /** The stored text, cut to RAW_KEPT characters. */
  raw: z.string(),
  rawLength: z.number().int().nonnegative(),
});
export type QuarantinedRecord = z.infer<typeof QuarantinedRecord>;

/** Characters of a bad record kept in quarantine: enough to see what broke, small enough to always fit. */
const RAW_KEPT = 100_000;

export interface TaskStoreOptions {
  /** Told once a record was quarantined (e.g. to say so in its thread). Its errors are logged. */
  onQuarantine?: (q: QuarantinedRecord) => Promise<void>;
}

/**
 * Tasks in KV, written only by the tech lead, always with compare-and-swap.
 * Every write carries its outbox; `flush` publishes it (deduplicated by msgID)
 * and then removes what was sent — so a crash between the write and the
 * publish loses nothing and a replay publishes nothing twice.
 *
 * A record that does not parse is moved to the quarantine bucket with the reason and
 * logged; to everyone else it is a task that does not exist, so it never stops start-up,
 * `/mllead status` or any other task.
 */
export class TaskStore {
  private constructor(
    private readonly kv: TypedKv<typeof TaskRecord>,
    private readonly quarantineKv: TypedKv<typeof QuarantinedRecord>,
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly opts: TaskStoreOptions,
  ) {}

  static async open(bus: Bus, log: Logger, opts: TaskStoreOptions = {}): Promise<TaskStore> {
    await bus.ensureBucket(BUCKET_SPECS.tasksQuarantine);
    return new TaskStore(
      await bus.kv(BUCKETS.tasks, TaskRecord),
      await bus.kv(BUCKETS.tasksQuarantine, QuarantinedRecord),
      bus,
      log,
      opts,
    );
  }

  /** The task, or null when there is none (or its record did not parse and was quarantined). */
  async get(id: string): Promise<TaskRecord | null> {
    try {
      return (await this.kv.get(id))?.value ?? null;
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      await this.quarantine(err);
      return null;
    }
  }

  /** Stores a new task unless one with its id exists; returns the stored one either way. */
  async create(task: TaskRecord): Promise<TaskRecord> {
    // Twice at most: a first look may find a bad record under the id, which quarantine frees.
    for (let i = 0; i < 2; i++) {
      const rev = await this.kv.create(task.id, task);
      const stored = rev === null ? await this.get(task.id) : task;
      if (stored) {
        await this.flush(task.id);
        return stored;
      }
    }
    throw new TechLeadError(
      "task_contended",
      `the task ${task.id} could not be stored: its key holds a record that keeps changing`,
    );
  }

  /** Applies `fn` with compare-and-swap (retrying on a race), then flushes. `fn` returns null for "no change". */
  async update(id: string, fn: (t: TaskRecord) => TaskRecord | null): Promise<TaskRecord | null> {
    let out: Versioned<TaskRecord> | null;
    try {
      out = await this.kv.mutate(id, fn);
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      await this.quarantine(err);
      return null;
    }
    await this.flush(id);
    return out?.value ?? null;
  }

  /** Publishes the task's outbox in order, then drops the published entries. */
  async flush(id: string): Promise<void> {
    const task = await this.get(id);
    if (!task || task.outbox.length === 0) return;
    const sent = new Set<string>();
    // In the task's trace when nothing else is active (a flush at start-up), so its messages join it.
    await withTrace(task.trace, async () => {
      for (const m of task.outbox) {
        await this.bus.publishRaw(m.subject, m.payload, m.msgId);
        sent.add(m.msgId);
      }
    });
    await this.mutateQuietly(id, (t) => {
      const rest = t.outbox.filter((m) => !sent.has(m.msgId));
      return rest.length === t.outbox.length ? null : { ...t, outbox: rest };
    });
    this.log.debug({ taskId: id, published: sent.size }, "outbox flushed");
  }

  /** Every task that parses (the others are quarantined on the way). */
  async all(): Promise<TaskRecord[]> {
    const out: TaskRecord[] = [];
    for (const key of await this.kv.keys()) {
      const t = await this.get(key);
      if (t) out.push(t);
    }
    return out;
  }

  /** What was quarantined, newest revision last per task; a quarantine entry that does not parse is logged and left out. */
  async quarantined(): Promise<QuarantinedRecord[]> {
    const out: QuarantinedRecord[] = [];
    for (const key of await this.quarantineKv.keys()) {
      try {
        // Null when the entry was removed after the listing.
        const q = await this.quarantineKv.get(key);
        if (q) out.push(q.value);
      } catch (err) {
        if (!(err instanceof InvalidRecordError)) throw err;
        this.log.warn({ err, key }, "a quarantined task record's entry does not parse; leaving it out");
      }
    }
    return out;
  }

  /** A compare-and-swap write without a flush (the flush's own bookkeeping). */
  private async mutateQuietly(id: string, fn: (t: TaskRecord) => TaskRecord | null): Promise<void> {
    try {
      await this.kv.mutate(id, fn);
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      await this.quarantine(err);
    }
  }

  /**
   * Copies a record that does not parse to the quarantine bucket with the reason, then deletes it
   * (only if it is still at that revision). Never throws: a record that cannot even be moved is
   * logged and skipped, and the next look tries again.
   */
  private async quarantine(err: InvalidRecordError): Promise<void> {
    const log = this.log.child({ taskId: err.key, revision: err.revision });
    const q: QuarantinedRecord = {
      key: err.key,
      revision: err.revision,
      reason: err.issues,
      quarantinedAt: new Date().toISOString(),
      raw: err.raw.slice(0, RAW_KEPT),
      rawLength: err.raw.length,
    };
    try {
      await this.quarantineKv.put(`${err.key}.${err.revision}`, q);
    } catch (putErr) {
      log.error({ err: putErr, reason: err.issues }, "a task record does not parse and could not be quarantined; skipping it");
      return;
    }
    try {
      await this.kv.delete(err.key, err.revision);
    } catch (delErr) {
      // Someone wrote the key since we read it; the next read sees the new record.
      log.warn({ err: delErr }, "a quarantined task record changed before it could be removed");
      return;
    }
    log.error({ reason: err.issues }, `quarantined a task record that does not parse (${BUCKETS.tasksQuarantine})`);
    await this.opts.onQuarantine?.(q).catch((tellErr: unknown) => log.error({ err: tellErr }, "could not tell the thread"));
  }
}

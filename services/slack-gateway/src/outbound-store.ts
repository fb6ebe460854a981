import type { Bus, TypedKv } from "@mllead/bus";
import { BUCKETS, Plan, stableId } from "@mllead/contracts";
import { z } from "zod";
import type { OutboxJob, OutboxStore } from "./outbox.js";

/** A job as kept in KV: the outbox's fields, with a payload the gateway itself wrote. */
const StoredJob = z.looseObject({
  key: z.string().min(1),
  seq: z.number(),
  priority: z.enum(["person", "thread", "progress"]),
  channel: z.string().min(1),
  threadTs: z.string().min(1),
  ordered: z.boolean(),
  coalesce: z.boolean(),
  minIntervalMs: z.number().optional(),
  final: z.boolean().optional(),
  attempts: z.number().int().nonnegative(),
  notBefore: z.number().optional(),
  payload: z.unknown(),
});

/** A plan as it was shown, for the Details button (the tech lead keeps only the newest revision). */
export const PlanDoc = z.object({ taskId: z.string(), revision: z.number().int(), requester: z.string(), plan: Plan });
export type PlanDoc = z.infer<typeof PlanDoc>;

/** An event or a Slack write the gateway gave up on, and why: kept for a person to look at, never retried. */
export const SetAside = z.object({
  key: z.string(),
  taskId: z.string().optional(),
  what: z.string(),
  reason: z.string().max(2000),
  at: z.string(),
  /** The event or job as it was, cut to 20,000 characters of JSON. */
  body: z.string().max(20_000),
});
export type SetAside = z.infer<typeof SetAside>;

const key = {
  job: (k: string) => `out.${stableId("", k)}`,
  plan: (taskId: string, revision: number) => `plandoc.${taskId}.${revision}`,
  aside: (k: string) => `aside.${stableId("", k)}`,
};

/**
 * What the outbound side keeps in the gateway's `mllead_slack` bucket: the outbox (jobs waiting for
 * Slack), the plans behind the Details button, and what was set aside with its reason.
 */
export class OutboundStore<P> implements OutboxStore<P> {
  private constructor(
    private readonly jobs: TypedKv<typeof StoredJob>,
    private readonly plans: TypedKv<typeof PlanDoc>,
    private readonly asides: TypedKv<typeof SetAside>,
  ) {}

  static async open<P>(bus: Bus): Promise<OutboundStore<P>> {
    return new OutboundStore<P>(
      await bus.kv(BUCKETS.slack, StoredJob),
      await bus.kv(BUCKETS.slack, PlanDoc),
      await bus.kv(BUCKETS.slack, SetAside),
    );
  }

  async put(job: OutboxJob<P>): Promise<void> {
    await this.jobs.put(key.job(job.key), job as z.input<typeof StoredJob>);
  }

  async delete(k: string): Promise<void> {
    await this.jobs.delete(key.job(k));
  }

  async list(): Promise<OutboxJob<P>[]> {
    const out: OutboxJob<P>[] = [];
    for (const k of await this.jobs.keys("out.*")) {
      const v = await this.jobs.get(k).catch(() => null);
      if (v) out.push(v.value as unknown as OutboxJob<P>);
    }
    return out;
  }

  async putPlan(doc: PlanDoc): Promise<void> {
    await this.plans.put(key.plan(doc.taskId, doc.revision), doc);
  }

  async plan(taskId: string, revision: number): Promise<PlanDoc | null> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(taskId)) return null;
    return (await this.plans.get(key.plan(taskId, revision)).catch(() => null))?.value ?? null;
  }

  /** The newest plan shown for a task (the requester is who a streamed summary answers). */
  async latestPlan(taskId: string, revision: number | undefined): Promise<PlanDoc | null> {
    for (let r = revision ?? 1; r >= 1; r--) {
      const doc = await this.plan(taskId, r);
      if (doc) return doc;
    }
    return null;
  }

  async setAside(entry: SetAside): Promise<void> {
    await this.asides.put(key.aside(entry.key), entry);
  }

  /** Everything set aside (newest last), for tests and operators. */
  async setAsideEntries(): Promise<SetAside[]> {
    const out: SetAside[] = [];
    for (const k of await this.asides.keys("aside.*")) {
      const v = await this.asides.get(k).catch(() => null);
      if (v) out.push(v.value);
    }
    return out.sort((a, b) => a.at.localeCompare(b.at));
  }
}

import type { Bus, TypedKv } from "@mllead/bus";
import { BUCKETS, Plan, stableId } from "@mllead/contracts";
import type { Logger } from "pino";
import { z } from "zod";
import { readValues } from "../kv-values.js";
import type { OutboxItem, OutboxStore } from "./outbox.js";

/** An item as kept in KV: the outbox's fields, with a payload the gateway itself wrote. */
const StoredItem = z.looseObject({
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
  /** The event or outbox item as it was, cut to 20,000 characters of JSON. */
  body: z.string().max(20_000),
});
export type SetAside = z.infer<typeof SetAside>;

const key = {
  item: (k: string) => `out.${stableId("", k)}`,
  plan: (taskId: string, revision: number) => `plandoc.${taskId}.${revision}`,
  aside: (k: string) => `aside.${stableId("", k)}`,
};

/**
 * What the outbound side keeps in the gateway's `mllead_slack` bucket: the outbox (items waiting for
 * Slack), the plans behind the Details button, and what was set aside with its reason.
 */
export class OutboundStore<P> implements OutboxStore<P> {
  private constructor(
    private readonly items: TypedKv<typeof StoredItem>,
    private readonly plans: TypedKv<typeof PlanDoc>,
    private readonly asides: TypedKv<typeof SetAside>,
    private readonly log: Pick<Logger, "warn">,
  ) {}

  /** `log` hears of stored records that no longer match their schema (they are left out of listings). */
  static async open<P>(bus: Bus, log: Pick<Logger, "warn">): Promise<OutboundStore<P>> {
    return new OutboundStore<P>(
      await bus.kv(BUCKETS.slack, StoredItem),
      await bus.kv(BUCKETS.slack, PlanDoc),
      await bus.kv(BUCKETS.slack, SetAside),
      log,
    );
  }

  async put(item: OutboxItem<P>): Promise<void> {
    await this.items.put(key.item(item.key), item as z.input<typeof StoredItem>);
  }

  async delete(k: string): Promise<void> {
    await this.items.delete(key.item(k));
  }

  async list(): Promise<OutboxItem<P>[]> {
    const stored = await readValues(this.items, await this.items.keys("out.*"), this.log);
    return stored as unknown as OutboxItem<P>[];
  }

  async putPlan(doc: PlanDoc): Promise<void> {
    await this.plans.put(key.plan(doc.taskId, doc.revision), doc);
  }

  async plan(taskId: string, revision: number): Promise<PlanDoc | null> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(taskId)) return null;
    const [doc] = await readValues(this.plans, [key.plan(taskId, revision)], this.log);
    return doc ?? null;
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
    const out = await readValues(this.asides, await this.asides.keys("aside.*"), this.log);
    return out.sort((a, b) => a.at.localeCompare(b.at));
  }
}

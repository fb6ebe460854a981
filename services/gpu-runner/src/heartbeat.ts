import type { TypedKv } from "@mllead/bus";
import type { Logger } from "pino";
import { z } from "zod";
import { GpuInfo, type InventoryPort } from "./inventory.js";

/** A runner's heartbeat in `mllead_runners` (key = runnerId); the bucket's TTL removes it when the runner dies. */
export const RunnerHeartbeat = z.object({
  runnerId: z.string(),
  host: z.string(),
  gpus: z.array(GpuInfo),
  cpuSlots: z.number().int().positive(),
  /** Job ids this runner holds now (running or waiting for devices). */
  runningJobs: z.array(z.string()),
  /** The Python jobs run here (MLLEAD_PYTHON_ENV, else the system python3): for the planner and the specialists' prompts. */
  python: z
    .object({
      kind: z.string(),
      interpreter: z.string(),
      version: z.string().optional(),
      packages: z.array(z.object({ name: z.string(), version: z.string() })),
    })
    .optional(),
  at: z.iso.datetime({ offset: true }),
});
export type RunnerHeartbeat = z.infer<typeof RunnerHeartbeat>;

/**
 * Puts the runner's heartbeat every `intervalMs` and runs `onBeat` (claim leases)
 * with it. The inventory is re-read each beat so memory and utilisation stay current.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  /** True after the last beat reached NATS. */
  ok = false;

  constructor(
    private readonly opts: {
      kv: TypedKv<typeof RunnerHeartbeat>;
      runnerId: string;
      host: string;
      cpuSlots: number;
      inventory: InventoryPort | null;
      initialGpus: GpuInfo[];
      runningJobs: () => string[];
      /** What jobs run as Python here; absent when unknown. */
      python?: RunnerHeartbeat["python"];
      onBeat: () => Promise<void>;
      intervalMs: number;
      log: Logger;
    },
  ) {
    this.gpus = opts.initialGpus;
  }

  private gpus: GpuInfo[];

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beating = this.beating.then(() => this.beat());
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** One beat now. Never throws: a missed beat is logged, the next one tries again. */
  async beat(): Promise<void> {
    try {
      if (this.opts.inventory) {
        const inv = await this.opts.inventory.read();
        // A driver hiccup must not make the host look GPU-less; keep the last good list.
        if (inv.gpus.length > 0) this.gpus = inv.gpus;
      }
      await this.opts.kv.put(this.opts.runnerId, {
        runnerId: this.opts.runnerId,
        host: this.opts.host,
        gpus: this.gpus,
        cpuSlots: this.opts.cpuSlots,
        runningJobs: this.opts.runningJobs(),
        ...(this.opts.python ? { python: this.opts.python } : {}),
        at: new Date().toISOString(),
      });
      this.ok = true;
      await this.opts.onBeat();
    } catch (err) {
      this.ok = false;
      this.opts.log.warn({ err }, "heartbeat failed");
    }
  }

  /** Stops beating and removes the heartbeat, so the runner disappears from status at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
    await this.opts.kv.delete(this.opts.runnerId).catch(() => undefined);
  }
}

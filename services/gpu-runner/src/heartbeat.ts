import type { TypedKv } from "@mllead/bus";
import type { GpuInfo, RunnerHeartbeat } from "@mllead/contracts";
import type { PythonEnvDescription } from "@mllead/sandbox";
import { bestEffort } from "@mllead/service-kit";
import type { Logger } from "pino";
import type { InventoryPort } from "./inventory.js";

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
    // Should the delete fail, the heartbeat goes stale and readers count the runner gone all the same.
    await bestEffort("remove the runner's heartbeat", this.opts.log, () => this.opts.kv.delete(this.opts.runnerId));
  }
}

/** What jobs run as Python here, as the heartbeat says it; undefined when unknown. */
export function heartbeatPython(python: PythonEnvDescription | null): RunnerHeartbeat["python"] | undefined {
  if (!python) return undefined;
  return {
    kind: python.kind,
    interpreter: python.interpreter,
    ...(python.version ? { version: python.version } : {}),
    packages: [...python.packages, ...python.otherPackages],
  };
}

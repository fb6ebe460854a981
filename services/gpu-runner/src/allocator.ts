/** What a job was given: GPU UUIDs (empty for a CPU slot) and the value of CUDA_VISIBLE_DEVICES. */
export interface Allocation {
  devices: string[];
  cudaVisibleDevices: string;
}

/** The answer to a request: run now, wait for busy devices, or never (the host lacks them). */
export type AllocationResult =
  | { kind: "granted"; allocation: Allocation }
  | { kind: "busy" }
  | { kind: "impossible"; reason: string };

/**
 * Hands out GPUs by UUID and CPU slots, and never the same device to two jobs.
 * A job asking for `gpus: n` on a GPU host gets n free devices; `gpus: 0` (or any
 * job on a host with no GPU) takes a CPU slot and sees no device.
 */
export class Allocator {
  private readonly free: string[];
  private readonly held = new Map<string, string[]>();
  private cpuInUse = 0;
  private waiters = new Set<() => void>();

  /**
   * `devices`: GPU UUIDs in index order; `cpuSlots`: jobs at once without a GPU; `onWoken`: a job that waited got
   * its devices because another job released them (the wake-up path), after `waitedMs`.
   */
  constructor(
    readonly devices: readonly string[],
    readonly cpuSlots: number,
    private readonly onWoken?: (jobId: string, waitedMs: number) => void,
  ) {
    this.free = [...devices];
  }

  get gpuHost(): boolean {
    return this.devices.length > 0;
  }

  /** Jobs that can hold resources at once: what the runner pulls in parallel. */
  get capacity(): number {
    return this.devices.length + this.cpuSlots;
  }

  /** Job ids holding something now. */
  running(): string[] {
    return [...this.held.keys()];
  }

  tryAcquire(jobId: string, gpus: number): AllocationResult {
    if (this.held.has(jobId)) throw new Error(`job ${jobId} already holds an allocation`);
    if (gpus > 0 && this.gpuHost) {
      if (gpus > this.devices.length) {
        return {
          kind: "impossible",
          reason: `the job asks for ${gpus} GPUs but this host has ${this.devices.length}`,
        };
      }
      if (this.free.length < gpus) return { kind: "busy" };
      // Lowest indices first keeps placement predictable for people reading nvidia-smi.
      const taken = this.free.splice(0, gpus);
      this.held.set(jobId, taken);
      return { kind: "granted", allocation: { devices: taken, cudaVisibleDevices: taken.join(",") } };
    }
    if (this.cpuInUse >= this.cpuSlots) return { kind: "busy" };
    this.cpuInUse++;
    this.held.set(jobId, []);
    return { kind: "granted", allocation: { devices: [], cudaVisibleDevices: "" } };
  }

  /**
   * Like `tryAcquire`, but waits while the devices are busy, so a job never runs on a device another job
   * holds. A waiter is woken the moment `release` frees something (no poll), and `onWoken` is told how long
   * it waited. Rejects with the signal's reason when aborted.
   */
  async acquire(jobId: string, gpus: number, signal?: AbortSignal): Promise<Exclude<AllocationResult, { kind: "busy" }>> {
    const since = Date.now();
    let waited = false;
    for (;;) {
      signal?.throwIfAborted();
      const r = this.tryAcquire(jobId, gpus);
      if (r.kind === "granted" && waited) this.onWoken?.(jobId, Date.now() - since);
      if (r.kind !== "busy") return r;
      await this.nextRelease(signal);
      waited = true;
    }
  }

  /** Resolves at the next `release`; rejects with the signal's reason when aborted. */
  private nextRelease(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.waiters.delete(wake);
        reject(signal?.reason);
      };
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Gives a job's devices (or CPU slot) back. Releasing twice is harmless. */
  release(jobId: string): void {
    const taken = this.held.get(jobId);
    if (!taken) return;
    this.held.delete(jobId);
    if (taken.length === 0) this.cpuInUse--;
    else {
      this.free.push(...taken);
      const order = new Map(this.devices.map((d, i) => [d, i]));
      this.free.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    }
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const w of waiting) w();
  }
}

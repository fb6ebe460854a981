/**
 * At most one run per key per interval, with the latest pending run fired when the interval
 * ends (so the last progress shown is the newest) and a `final` run that always goes through at
 * once. Runs of one key never overlap, so a late trailing update cannot overwrite the final state.
 */
export class KeyedThrottle {
  private readonly lastRun = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Map<string, () => Promise<void>>();
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly intervalMs: number,
    private readonly onError: (key: string, err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `fn` now, or later as the key's trailing run; with `final`, now, dropping anything pending. */
  async run(key: string, fn: () => Promise<void>, opts: { final?: boolean } = {}): Promise<void> {
    if (opts.final) {
      this.cancel(key);
      await this.serial(key, fn);
      this.lastRun.delete(key);
      return;
    }
    const since = this.now() - (this.lastRun.get(key) ?? Number.NEGATIVE_INFINITY);
    if (since >= this.intervalMs && !this.timers.has(key)) {
      this.lastRun.set(key, this.now());
      await this.serial(key, fn);
      return;
    }
    this.pending.set(key, fn);
    if (!this.timers.has(key)) {
      const wait = Math.max(0, this.intervalMs - since);
      const timer = setTimeout(() => {
        this.timers.delete(key);
        const next = this.pending.get(key);
        this.pending.delete(key);
        if (!next) return;
        this.lastRun.set(key, this.now());
        this.serial(key, next).catch((err: unknown) => this.onError(key, err));
      }, wait);
      timer.unref();
      this.timers.set(key, timer);
    }
  }

  private cancel(key: string): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
    this.pending.delete(key);
  }

  private serial(key: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.chains.set(key, next);
    void next
      .catch(() => undefined)
      .finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      });
    return next;
  }

  /** Drops every pending trailing run and waits for runs in progress. */
  async close(): Promise<void> {
    for (const key of [...this.timers.keys()]) this.cancel(key);
    await Promise.allSettled([...this.chains.values()]);
  }
}

/**
 * Per-method sliding-window rate limits (calls per minute), off unless set, the way
 * Slack's tiers cap each Web API method separately.
 */
export class RateLimiter {
  private readonly limits = new Map<string, number>();
  private readonly seen = new Map<string, number[]>();

  constructor(initial: Record<string, number> = {}) {
    for (const [m, n] of Object.entries(initial)) this.set(m, n);
  }

  /** Limits `method` to `perMinute` calls; null lifts the limit. */
  set(method: string, perMinute: number | null): void {
    if (perMinute === null) this.limits.delete(method);
    else this.limits.set(method, perMinute);
    this.seen.delete(method);
  }

  /** Counts a call; returns the seconds to wait (Retry-After) when it is over the limit, else null. */
  take(method: string, now = Date.now()): number | null {
    const limit = this.limits.get(method);
    if (limit === undefined) return null;
    const recent = (this.seen.get(method) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= limit) {
      this.seen.set(method, recent);
      const oldest = recent[0] ?? now;
      return Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000));
    }
    recent.push(now);
    this.seen.set(method, recent);
    return null;
  }
}

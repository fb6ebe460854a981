/**
 * How one Web API method is limited: a number is calls per minute across the workspace (a sliding
 * window, like Slack's tiers); an object is a token bucket of `perSecond` calls with room for a burst
 * of `burst`, counted per channel (chat.postMessage: "about one message per second per channel, with
 * short bursts") or across the workspace.
 */
export type RateLimit = number | { perSecond: number; burst: number; per: "channel" | "workspace" };

/**
 * Slack-like limits: one message per second per channel with a burst of 4 (chat.postMessage's
 * special tier); Tier 3 (50 a minute) for updates, reactions, uploads' completion, status and the
 * start and end of streams; Tier 4 (100 a minute) for ephemerals, appends, upload URLs and views.
 */
export const SLACK_LIKE_LIMITS: Readonly<Record<string, RateLimit>> = {
  "chat.postMessage": { perSecond: 1, burst: 4, per: "channel" },
  "chat.update": 50,
  "reactions.add": 50,
  "chat.postEphemeral": 100,
  "chat.startStream": 50,
  "chat.appendStream": 100,
  "chat.stopStream": 50,
  "assistant.threads.setStatus": 50,
  "files.getUploadURLExternal": 100,
  "files.completeUploadExternal": 50,
  "views.open": 100,
  "views.publish": 100,
};

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Per-method rate limits, off unless set, the way Slack caps each Web API method separately:
 * a sliding window of calls per minute, or a token bucket per channel or per workspace.
 */
export class RateLimiter {
  private readonly limits = new Map<string, RateLimit>();
  private readonly seen = new Map<string, number[]>();
  private readonly buckets = new Map<string, Bucket>();

  constructor(initial: Readonly<Record<string, RateLimit>> = {}) {
    for (const [m, n] of Object.entries(initial)) this.set(m, n);
  }

  /** Limits `method`; null lifts the limit. */
  set(method: string, limit: RateLimit | null): void {
    if (limit === null) this.limits.delete(method);
    else this.limits.set(method, limit);
    this.seen.delete(method);
    for (const k of [...this.buckets.keys()]) if (k.startsWith(`${method}\u0000`)) this.buckets.delete(k);
  }

  /** The limit on `method`, if any. */
  get(method: string): RateLimit | undefined {
    return this.limits.get(method);
  }

  /**
   * Counts a call (to `channel`, for per-channel limits); returns the whole seconds to wait
   * (Retry-After, at least 1) when it is over the limit, else null.
   */
  take(method: string, channel?: string, now = Date.now()): number | null {
    const limit = this.limits.get(method);
    if (limit === undefined) return null;
    if (typeof limit === "number") return this.window(method, limit, now);
    const key = `${method}\u0000${limit.per === "channel" ? (channel ?? "") : ""}`;
    const b = this.buckets.get(key) ?? { tokens: limit.burst, at: now };
    const tokens = Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.perSecond);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now });
      return Math.max(1, Math.ceil((1 - tokens) / limit.perSecond));
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    return null;
  }

  private window(method: string, perMinute: number, now: number): number | null {
    const recent = (this.seen.get(method) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= perMinute) {
      this.seen.set(method, recent);
      const oldest = recent[0] ?? now;
      return Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000));
    }
    recent.push(now);
    this.seen.set(method, recent);
    return null;
  }
}

import { KeyedQueue } from "@mllead/service-kit";

/**
 * What a person waits for first: `person` (the plan, decisions, the verdict, the summary, the
 * "thinking" status, refusals), then `thread` (step messages, files), then `progress` (the status
 * card and job messages, which are edited in place and can always catch up).
 */
export type Priority = "person" | "thread" | "progress";
const RANK: Record<Priority, number> = { person: 0, thread: 1, progress: 2 };

/** One thing to do in Slack, kept until it is done. */
export interface OutboxItem<P = unknown> {
  /** The post key: an event id, or `card:<task>` / `job:<job>` for a message edited in place. */
  key: string;
  /** Arrival order (ms-based, increasing across restarts). */
  seq: number;
  priority: Priority;
  channel: string;
  threadTs: string;
  /** Keeps thread order: an ordered item waits for every earlier ordered item of its thread. */
  ordered: boolean;
  /** A newer item with the same key replaces this one while it waits (its latest state is all that matters). */
  coalesce: boolean;
  /** Least time (ms) between two runs of this key, unless the newer item is `final`. */
  minIntervalMs?: number;
  final?: boolean;
  /** Failed runs so far (rate limits not counted). */
  attempts: number;
  /** Not before this time (ms): backoff after a failure, or the key's interval. */
  notBefore?: number;
  payload: P;
}

/** How a run ended when it did not succeed. */
export type RunFailure =
  /** Slack said 429 for `lane`: pause the lane, run the item again when it opens. */
  | { kind: "rate_limited"; lane: string; retryAfterMs: number }
  /** Retrying cannot help: set the item aside with the reason. */
  | { kind: "permanent"; reason: string }
  /** Try again later with backoff. */
  | { kind: "transient"; reason: string };

/** What the outbox is driven by: where items go in Slack, and how to do them. */
export interface OutboxExecutor<P> {
  /** The rate-limit lanes an item will use (e.g. `chat.postMessage:C123`, `chat.update`). */
  lanes(item: OutboxItem<P>): string[];
  /** Does the item; throws, and `classify` says what the error means. */
  run(item: OutboxItem<P>): Promise<void>;
  classify(err: unknown, item: OutboxItem<P>): RunFailure;
  /** Told when an item is given up on, with the reason. */
  setAside(item: OutboxItem<P>, reason: string): Promise<void>;
}

/** Where waiting items are kept, so a restart continues them. */
export interface OutboxStore<P> {
  put(item: OutboxItem<P>): Promise<void>;
  delete(key: string): Promise<void>;
  list(): Promise<OutboxItem<P>[]>;
}

export interface OutboxOptions {
  /** Items running at once across all lanes. Default 16. */
  concurrency?: number;
  /** Items running at once in one lane; a `chat.postMessage:<channel>` lane takes one at a time so priority decides. Default 1 for posts, 4 otherwise. */
  laneConcurrency?: (lane: string) => number;
  /** Failed runs before an item is set aside. Default 30 (about a quarter of an hour with the backoff). */
  maxAttempts?: number;
  backoffMs?: (attempts: number) => number;
  now?: () => number;
  onError?: (err: unknown, item: OutboxItem<unknown>) => void;
}

interface Entry<P> {
  item: OutboxItem<P>;
  running: boolean;
  /** A newer version that arrived while this one ran. */
  next?: OutboxItem<P> | undefined;
}

/**
 * The gateway's outbox: every Slack write waits here (and in KV, so a restart loses nothing) until
 * it is done. A rate limit pauses only its lane (one channel's posts, or one method); among the
 * items that may run, the ones a person waits for go first; items of one thread keep their order;
 * a message edited in place is sent once with its newest state however many updates arrived.
 */
export class Outbox<P> {
  private readonly entries = new Map<string, Entry<P>>();
  private readonly pausedUntil = new Map<string, number>();
  private readonly laneRunning = new Map<string, number>();
  private readonly lastRun = new Map<string, number>();
  private running = 0;
  private lastSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private stopped = false;
  private readonly idleWaiters: (() => void)[] = [];
  /** Store writes of one key, in order (a delete must not overtake the put of a newer version). */
  private readonly writes = new KeyedQueue();
  private readonly now: () => number;

  constructor(
    private readonly store: OutboxStore<P>,
    private readonly exec: OutboxExecutor<P>,
    private readonly opts: OutboxOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Loads the items a previous process left and starts working on them. */
  async start(): Promise<void> {
    const items = (await this.store.list()).sort((a, b) => a.seq - b.seq);
    for (const item of items) {
      this.entries.set(item.key, { item, running: false });
      this.lastSeq = Math.max(this.lastSeq, item.seq);
    }
    this.pump();
  }

  /** A sequence number later than every earlier one. */
  nextSeq(): number {
    this.lastSeq = Math.max(this.lastSeq + 1, this.now() * 1000);
    return this.lastSeq;
  }

  /**
   * Adds an item (kept in the store before this resolves). An item whose key is already waiting
   * replaces it when `coalesce` is set (keeping its place in line) and is dropped otherwise
   * (a redelivered event).
   */
  async enqueue(input: Omit<OutboxItem<P>, "seq" | "attempts"> & { seq?: number }): Promise<void> {
    const existing = this.entries.get(input.key);
    if (existing && !input.coalesce) return;
    const base = existing?.next ?? existing?.item;
    const item: OutboxItem<P> = {
      ...input,
      seq: base?.seq ?? input.seq ?? this.nextSeq(),
      attempts: 0,
      // A waiting final state stays final when a late, older update is merged into it.
      final: Boolean(input.final || (base?.final && !(existing?.running && base === existing.item))),
    };
    if (!item.final) {
      const last = this.lastRun.get(item.key);
      const interval = last !== undefined && item.minIntervalMs ? last + item.minIntervalMs : 0;
      const wait = Math.max(base?.notBefore ?? 0, interval);
      if (wait > 0) item.notBefore = wait;
    }
    if (existing?.running) existing.next = item;
    else this.entries.set(input.key, { item, running: false });
    await this.write(item.key, () => this.store.put(item));
    this.pump();
  }

  private write(key: string, op: () => Promise<void>): Promise<void> {
    return this.writes.run(key, op);
  }

  /** Items waiting or running. */
  size(): number {
    return this.entries.size;
  }

  /** Resolves when nothing is waiting or running (tests and shutdown). */
  idle(): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Takes no new runs and waits for those in hand; what waits stays in the store for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running > 0) await new Promise((r) => setTimeout(r, 10));
  }

  private isPaused(lane: string, now: number): boolean {
    return (this.pausedUntil.get(lane) ?? 0) > now;
  }

  private laneLimit(lane: string): number {
    return this.opts.laneConcurrency?.(lane) ?? (lane.startsWith("chat.postMessage") ? 1 : 4);
  }

  /** When the item may run (ms), or null when something else must finish first. */
  private readyAt(entry: Entry<P>, now: number): number | null {
    const { item } = entry;
    if (entry.running) return null;
    let at = item.notBefore ?? 0;
    for (const lane of this.exec.lanes(item)) {
      at = Math.max(at, this.pausedUntil.get(lane) ?? 0);
      if ((this.laneRunning.get(lane) ?? 0) >= this.laneLimit(lane) && !this.isPaused(lane, now)) return null;
    }
    if (item.ordered) {
      for (const other of this.entries.values()) {
        const o = other.item;
        if (o !== item && o.ordered && o.seq < item.seq && o.channel === item.channel && o.threadTs === item.threadTs)
          return null;
      }
    }
    return at;
  }

  private pump(): void {
    if (this.stopped) return;
    const max = this.opts.concurrency ?? 16;
    const now = this.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    const waiting = [...this.entries.values()]
      .filter((e) => !e.running)
      .sort((a, b) => RANK[a.item.priority] - RANK[b.item.priority] || a.item.seq - b.item.seq);
    for (const entry of waiting) {
      if (this.running >= max) break;
      const at = this.readyAt(entry, now);
      if (at === null) continue;
      if (at > now) {
        wakeAt = Math.min(wakeAt, at);
        continue;
      }
      this.launch(entry);
    }
    this.wakeAt(wakeAt);
  }

  private wakeAt(at: number): void {
    if (at === Number.POSITIVE_INFINITY || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, at - this.now()),
    );
    this.timer.unref?.();
  }

  private launch(entry: Entry<P>): void {
    const { item } = entry;
    const lanes = this.exec.lanes(item);
    entry.running = true;
    this.running++;
    for (const l of lanes) this.laneRunning.set(l, (this.laneRunning.get(l) ?? 0) + 1);
    void this.runOnce(item).finally(() => {
      entry.running = false;
      this.running--;
      for (const l of lanes) this.laneRunning.set(l, Math.max(0, (this.laneRunning.get(l) ?? 1) - 1));
      this.pump();
      if (this.entries.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  private async runOnce(item: OutboxItem<P>): Promise<void> {
    const entry = this.entries.get(item.key);
    try {
      await this.exec.run(item);
      this.lastRun.set(item.key, this.now());
      await this.finish(item.key, entry);
    } catch (err) {
      const failure = this.exec.classify(err, item);
      if (failure.kind === "rate_limited") {
        this.pausedUntil.set(failure.lane, Math.max(this.pausedUntil.get(failure.lane) ?? 0, this.now() + failure.retryAfterMs));
        return;
      }
      const attempts = item.attempts + 1;
      if (failure.kind === "permanent" || attempts >= (this.opts.maxAttempts ?? 30)) {
        this.opts.onError?.(err, item);
        await this.exec.setAside(item, failure.reason).catch((e: unknown) => this.opts.onError?.(e, item));
        await this.finish(item.key, entry);
        return;
      }
      const backoff = this.opts.backoffMs?.(attempts) ?? Math.min(30_000, 500 * 2 ** attempts);
      item.attempts = attempts;
      item.notBefore = this.now() + backoff;
      // A newer version that came in meanwhile replaces this one (and carries no backoff).
      if (!entry?.next)
        await this.write(item.key, () => this.store.put(item)).catch((e: unknown) => this.opts.onError?.(e, item));
      else await this.finish(item.key, entry, false);
    }
  }

  /** The item is done: drop it, or run the newer version that came in meanwhile (after the key's interval). */
  private async finish(key: string, entry: Entry<P> | undefined, ran = true): Promise<void> {
    const next = entry?.next;
    if (entry && next) {
      entry.next = undefined;
      const interval = next.final || !ran ? 0 : (next.minIntervalMs ?? 0);
      if (interval > 0) next.notBefore = (this.lastRun.get(key) ?? this.now()) + interval;
      entry.item = next;
      return;
    }
    this.entries.delete(key);
    await this.write(key, () => this.store.delete(key)).catch((e: unknown) =>
      this.opts.onError?.(e, entry?.item ?? ({ key } as OutboxItem<unknown>)),
    );
  }
}

/**
 * Runs async work one at a time per key, in the order it was queued, while work under different
 * keys runs at once (a task's events apply in order; one slow task holds up no other). A failed
 * run does not stop the next one under its key. Keys with nothing queued are forgotten, so the
 * queue does not grow per key. Within one process only.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` after everything queued before it under `key` has settled; resolves or rejects as `fn` does. */
  run<T>(key: string, fn: () => T | Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn);
    // The tail only orders the next run; the caller gets `result` and its error.
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** How many keys have work queued or running (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}

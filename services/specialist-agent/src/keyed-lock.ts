/**
 * Runs async sections one at a time per key, within this process (two steps
 * of one task finishing at once must not commit into one worktree together).
 * Keys with nothing waiting are forgotten, so the map does not grow per task.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier section with the same key has settled; returns its result. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a section running or waiting (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}

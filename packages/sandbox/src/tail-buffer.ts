/** Keeps the last `limit` bytes written to it, and counts what it dropped. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    // Compact only when well over the limit, so a chatty process costs O(n) overall.
    if (this.size > this.limit * 2) this.compact();
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const keep = all.subarray(Math.max(0, all.length - this.limit));
    this.dropped += all.length - keep.length;
    this.chunks = [Buffer.from(keep)];
    this.size = keep.length;
  }

  /** The kept tail as text, prefixed by a marker when output was dropped. */
  toString(): string {
    if (this.size > this.limit) this.compact();
    const text = Buffer.concat(this.chunks).toString("utf8");
    return this.dropped > 0 ? `[… ${this.dropped} earlier bytes dropped …]\n${text}` : text;
  }
}

/**
 * The one home of output tails: what is kept of a command's or a job's output, whatever it prints.
 * `TailBuffer` keeps the last bytes, `LineTail` the last lines (fed by `LineSplitter`), and
 * `lastLines` / `tailChars` cut a text that is already whole.
 */

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

/** The last `maxLines` lines pushed (default 50), each cut to `maxChars` (default 1000, with `…`). */
export class LineTail {
  private readonly lines: string[] = [];

  constructor(
    readonly maxLines = 50,
    readonly maxChars = 1000,
  ) {}

  push(line: string): void {
    this.lines.push(line.length > this.maxChars ? `${line.slice(0, this.maxChars - 1)}…` : line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  /** The kept lines, oldest first (a copy). */
  toArray(): string[] {
    return [...this.lines];
  }
}

/**
 * Splits a byte stream into lines without holding more than `maxLineChars` (default 64 Ki) of a
 * line that never ends: the rest of such a line is dropped (a job printing 1 GB with no newline
 * costs nothing). A trailing `\r` is removed.
 */
export class LineSplitter {
  private buf = "";
  private discarding = false;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly onLine: (line: string) => void,
    readonly maxLineChars = 64 * 1024,
  ) {}

  write(chunk: Uint8Array): void {
    let text = this.decoder.decode(chunk, { stream: true });
    for (;;) {
      const nl = text.indexOf("\n");
      if (nl < 0) break;
      const piece = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (this.discarding) this.discarding = false;
      else this.emit(this.buf + piece);
      this.buf = "";
    }
    if (this.discarding) return;
    this.buf += text;
    if (this.buf.length > this.maxLineChars) {
      this.emit(this.buf.slice(0, this.maxLineChars));
      this.buf = "";
      this.discarding = true;
    }
  }

  /** Emits what is left (a last line with no newline). */
  end(): void {
    const rest = this.buf + this.decoder.decode();
    this.buf = "";
    if (!this.discarding && rest.length > 0) this.emit(rest);
    this.discarding = false;
  }

  private emit(line: string): void {
    this.onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
  }
}

/** The last `n` lines of `text`, trimmed first (no blank lines at either end); "" for blank text. */
export function lastLines(text: string, n: number): string {
  return text.trim().split("\n").slice(-n).join("\n");
}

/** `text` when it has at most `max` characters; else its last `max`, after a line that says how many were cut. */
export function tailChars(text: string, max: number): string {
  return text.length > max ? `… [${text.length - max} characters cut]\n${text.slice(-max)}` : text;
}

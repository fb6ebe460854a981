import { createWriteStream, type WriteStream } from "node:fs";

/** How many lines the tail keeps, and how long each may be (the `JobResult.logTail` bounds). */
export const TAIL_LINES = 50;
export const TAIL_LINE_CHARS = 1000;

/** The last `maxLines` lines of output, each cut to `maxChars`: bounded whatever the job prints. */
export class LogTail {
  private readonly lines: string[] = [];

  constructor(
    readonly maxLines = TAIL_LINES,
    readonly maxChars = TAIL_LINE_CHARS,
  ) {}

  push(line: string): void {
    this.lines.push(line.length > this.maxChars ? `${line.slice(0, this.maxChars - 1)}…` : line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  toArray(): string[] {
    return [...this.lines];
  }
}

/**
 * Splits a byte stream into lines without holding more than `maxLineChars` of a
 * line that never ends: the rest of such a line is dropped (a job printing 1 GB
 * with no newline costs the runner nothing).
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

/** A job's full output on disk, cut off (with a marker) at `maxBytes`. */
export class CappedLogFile {
  private written = 0;
  private truncated = false;
  private readonly out: WriteStream;

  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {
    this.out = createWriteStream(path);
  }

  write(chunk: Uint8Array): void {
    if (this.truncated) return;
    const room = this.maxBytes - this.written;
    if (chunk.byteLength <= room) {
      this.out.write(chunk);
      this.written += chunk.byteLength;
      return;
    }
    this.out.write(chunk.subarray(0, Math.max(0, room)));
    this.out.write(`\n[mllead: log truncated at ${this.maxBytes} bytes]\n`);
    this.written = this.maxBytes;
    this.truncated = true;
  }

  /** Appends a line written by the runner itself (e.g. why a job could not start). */
  note(text: string): void {
    this.write(new TextEncoder().encode(`[mllead] ${text}\n`));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

import { createWriteStream, type WriteStream } from "node:fs";

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

import { createWriteStream, type WriteStream } from "node:fs";
import { LineTail } from "@mllead/sandbox";

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

/** What a job's output becomes: the full log on disk and the tail for its result, with the runner's own notes. */
export interface JobOutput {
  logFile: CappedLogFile;
  tail: LineTail;
  /** A line the runner adds (why the job could not start, that it timed out). */
  note: (text: string) => void;
}

/** A job's output: its log file at `logPath` (cut off at `logMaxBytes`), the tail for its result, and notes. */
export function jobOutput(logPath: string, logMaxBytes: number): JobOutput {
  const logFile = new CappedLogFile(logPath, logMaxBytes);
  const tail = new LineTail();
  const note = (text: string) => {
    tail.push(`[mllead] ${text}`);
    logFile.note(text);
  };
  return { logFile, tail, note };
}

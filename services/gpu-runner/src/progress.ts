import { JobProgress, PROGRESS_PREFIX } from "@mllead/contracts";
import { z } from "zod";

/** A stdout line is either a progress update or an ordinary log line. */
export type ParsedLine = { kind: "progress"; progress: JobProgress } | { kind: "log"; line: string };

/**
 * The JSON after a progress prefix, as a JobProgress. Text that is not JSON is a validation issue like any
 * other (the job printed a log line that looks like progress), so `safeParse` answers it without a throw.
 */
const ProgressJson = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `not JSON: ${(err as Error).message}` });
      return z.NEVER;
    }
  })
  .pipe(JobProgress);

/**
 * Reads one stdout line. `::mllead-progress {json}` lines that validate become
 * progress; anything else (including a malformed progress line) is a log line.
 */
export function parseOutputLine(line: string): ParsedLine {
  if (!line.startsWith(PROGRESS_PREFIX)) return { kind: "log", line };
  const parsed = ProgressJson.safeParse(line.slice(PROGRESS_PREFIX.length));
  return parsed.success ? { kind: "progress", progress: parsed.data } : { kind: "log", line };
}

/**
 * Passes on at most one progress update per `intervalMs`; the latest update held
 * back is sent when the interval ends, and `flush()` sends it at once (so the last
 * update always goes out, before the job's final event).
 */
export class ProgressThrottle {
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private pending: JobProgress | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (p: JobProgress) => void,
    readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  offer(p: JobProgress): void {
    const wait = this.lastSentAt + this.intervalMs - this.now();
    if (wait <= 0 && !this.timer) {
      this.emit(p);
      return;
    }
    this.pending = p;
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, wait));
  }

  /** Sends the held-back update now, if any. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (p) this.emit(p);
  }

  private emit(p: JobProgress): void {
    this.lastSentAt = this.now();
    this.send(p);
  }
}

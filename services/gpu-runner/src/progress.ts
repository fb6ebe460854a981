import { JobProgress, PROGRESS_PREFIX } from "@mllead/contracts";

/** A stdout line is either a progress update or an ordinary log line. */
export type ParsedLine = { kind: "progress"; progress: JobProgress } | { kind: "log"; line: string };

/**
 * Reads one stdout line. `::mllead-progress {json}` lines that validate become
 * progress; anything else (including a malformed progress line) is a log line.
 */
export function parseOutputLine(line: string): ParsedLine {
  if (!line.startsWith(PROGRESS_PREFIX)) return { kind: "log", line };
  let raw: unknown;
  try {
    raw = JSON.parse(line.slice(PROGRESS_PREFIX.length));
  } catch {
    return { kind: "log", line };
  }
  const parsed = JobProgress.safeParse(raw);
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

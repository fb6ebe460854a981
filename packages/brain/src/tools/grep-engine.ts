import { Worker } from "node:worker_threads";
import { GrepStoppedError, ToolInputError } from "../errors.js";

/** What `Grep` looks for, as its worker gets it. */
interface GrepQuery {
  /** RE2 syntax (ripgrep's, as Claude Code's Grep): no backreferences or lookaround. */
  pattern: string;
  caseInsensitive: boolean;
  /** The pattern may span lines and `.` matches newlines. */
  multiline: boolean;
  mode: "content" | "files_with_matches" | "count";
  /** Context lines before and after each match (content mode). */
  before: number;
  after: number;
}

/** One file's answer: matching lines (matches in multiline mode) and, in content mode, the 0-based lines to show. */
interface GrepHit {
  count: number;
  lines: number[];
}

type Reply = { type: "ready" } | { type: "invalid"; message: string } | ({ type: "result"; id: number } & GrepHit);

const WORKER = new URL("./grep-worker.js", import.meta.url);

/**
 * The regular-expression side of `Grep`, off the service's event loop: a worker thread compiles the
 * pattern with re2js, a linear-time RE2 engine (so a pattern such as `(a+)+$` cannot backtrack for ever),
 * and matches the files it is sent one at a time. Past its deadline or when `signal` aborts, the worker is
 * terminated and every pending search rejects with `GrepStoppedError`: whatever the pattern and the files,
 * the service's own thread only waits.
 */
export class GrepEngine {
  private readonly pending = new Map<number, { resolve: (hit: GrepHit) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private stopped?: Error;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort = () => this.stop(new GrepStoppedError("the search was stopped: the step is ending"));
  private readonly ready: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    deadlineMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    // The worker's first answer (pattern compiled, or refused) settles the pending entry -1.
    this.ready = new Promise<void>((resolve, reject) => {
      this.pending.set(-1, { resolve: () => resolve(), reject });
    });
    this.timer = setTimeout(
      () => this.stop(new GrepStoppedError(`the search stopped after ${Math.round(deadlineMs / 1000)} s`)),
      deadlineMs,
    );
    signal?.addEventListener("abort", this.onAbort, { once: true });
    if (signal?.aborted) this.onAbort();
  }

  /** Starts a worker for `query`; rejects with a ToolInputError for a pattern RE2 does not accept. */
  static async start(query: GrepQuery, opts: { deadlineMs: number; signal?: AbortSignal }): Promise<GrepEngine> {
    const worker = new Worker(WORKER, {
      workerData: query,
      // The worker is plain JavaScript: no loader of the parent's (tsx, vitest) is needed or wanted.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    const engine = new GrepEngine(worker, opts.deadlineMs, opts.signal);
    worker.on("message", (m: Reply) => engine.receive(m));
    worker.on("error", (err) => engine.stop(new GrepStoppedError(`the search failed: ${err.message}`, { cause: err })));
    worker.on("exit", () => engine.stop(new GrepStoppedError("the search stopped: its worker exited")));
    try {
      await engine.ready;
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  /** Searches one file's text. */
  search(text: string): Promise<GrepHit> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise<GrepHit>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, text });
    });
  }

  /** Ends the worker; pending searches reject. */
  async close(): Promise<void> {
    this.stop(new GrepStoppedError("the search was closed"));
    await this.worker.terminate();
  }

  private receive(m: Reply): void {
    if (m.type === "ready") this.settle(-1)?.resolve({ count: 0, lines: [] });
    else if (m.type === "invalid") this.settle(-1)?.reject(new ToolInputError(`invalid regular expression: ${m.message}`));
    else this.settle(m.id)?.resolve({ count: m.count, lines: m.lines });
  }

  private settle(id: number) {
    const p = this.pending.get(id);
    this.pending.delete(id);
    return p;
  }

  private stop(err: Error): void {
    if (this.stopped) return;
    this.stopped = err;
    clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    void this.worker.terminate();
  }
}

import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { InvalidMessageError } from "./errors.js";

/** What `waitForLast` needs from the Bus. */
export interface WaitLastDeps<T> {
  nc: NatsConnection;
  log: Logger;
  /** The last message stored on an exact subject, or null (throws InvalidMessageError when it does not parse). */
  last(subject: string): Promise<T | null>;
}

/** How long and how often `Bus.waitForLast` looks. */
export interface WaitOptions {
  /** Gives up (null) after this many ms. */
  timeoutMs: number;
  /** Longest pause between two looks, in ms. Default 5000. */
  pollMs?: number;
  /** Gives up (null) when aborted. */
  signal?: AbortSignal;
}

/**
 * Waits for a message on an exact subject: resolves with the last one stored there as soon as there is
 * one, or null once `timeoutMs` passed or `signal` aborted. It looks in the stream, then wakes on
 * a live publish (a plain subscription: no consumer is created, so the service's NATS user needs none)
 * and looks again at least every `pollMs`, so a publish missed during a reconnect is still found. A
 * stored message that does not parse is logged and waited past.
 */
export async function waitForLast<T>(deps: WaitLastDeps<T>, subject: string, opts: WaitOptions): Promise<T | null> {
  const { nc, log } = deps;
  const deadline = Date.now() + opts.timeoutMs;
  const pollMs = opts.pollMs ?? 5000;
  let published = false;
  let wake: () => void = () => {};
  const sub = nc.subscribe(subject, {
    callback: (err) => {
      if (err) log.error({ err, subject }, "the wait for an event lost its subscription; looking every poll instead");
      published = true;
      wake();
    },
  });
  try {
    // The server has the subscription before the first look, so nothing falls between the two.
    await nc.flush();
    for (;;) {
      published = false;
      try {
        const last = await deps.last(subject);
        if (last) return last;
      } catch (err) {
        if (!(err instanceof InvalidMessageError)) throw err;
        log.warn({ err, subject }, "ignoring an invalid message; waiting for a valid one");
      }
      const left = deadline - Date.now();
      if (left <= 0 || opts.signal?.aborted) return null;
      if (published) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener("abort", done);
          wake = () => {};
          resolve();
        };
        const timer = setTimeout(done, Math.min(pollMs, left));
        opts.signal?.addEventListener("abort", done, { once: true });
        wake = done;
      });
    }
  } finally {
    sub.unsubscribe();
  }
}

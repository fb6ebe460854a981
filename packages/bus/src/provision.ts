import { type ConsumerSpec, STREAMS, type StreamSpec } from "@mllead/contracts";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { nanos, PermissionViolationError } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { ProvisionError } from "./errors.js";

function streamConfig(spec: StreamSpec): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: spec.retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(spec.maxAgeSec * 1000),
    duplicate_window: nanos(spec.duplicateWindowSec * 1000),
  };
}

function consumerConfig(spec: ConsumerSpec): Partial<ConsumerConfig> {
  return {
    durable_name: spec.durable,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(spec.ackWaitSec * 1000),
    max_deliver: spec.maxDeliver,
    max_ack_pending: spec.maxAckPending,
  };
}

/**
 * The server's refusal behind an error, if that is what it is: a PermissionViolationError itself or as the
 * cause of a failed request (nats.js wraps it in a RequestError).
 */
export function permissionViolation(err: unknown): PermissionViolationError | null {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof PermissionViolationError) return e;
  }
  return null;
}

/** Rethrows a failed NATS call with what it was about; a refusal says it is the NATS user's permissions. */
export function provisionFailure(what: string, err: unknown): ProvisionError {
  if (err instanceof ProvisionError) return err;
  const refusal = permissionViolation(err);
  if (refusal) {
    return new ProvisionError(
      what,
      `NATS refused a ${refusal.operation} on '${refusal.subject}': this service's NATS user may not do that (see infra/nats-permissions.conf)`,
      { cause: err },
    );
  }
  return new ProvisionError(what, (err as Error)?.message ?? String(err), { cause: err });
}

/** The stream's info, or null when it does not exist. Any other failure (a refusal, a timeout) is thrown. */
export async function streamInfoOrNull(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw provisionFailure(`stream '${name}'`, err);
  }
}

async function consumerInfoOrNull(jsm: JetStreamManager, stream: string, durable: string): Promise<ConsumerInfo | null> {
  try {
    return await jsm.consumers.info(stream, durable);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return null;
    throw provisionFailure(`consumer '${durable}' on '${stream}'`, err);
  }
}

/** Creates every stream, or updates it to the current spec. Safe to run from the owner at every start. */
export async function ensureStreams(jsm: JetStreamManager, specs: readonly StreamSpec[] = Object.values(STREAMS)): Promise<void> {
  for (const spec of specs) {
    const cfg = streamConfig(spec);
    const existing = await streamInfoOrNull(jsm, spec.name);
    try {
      if (!existing) {
        await jsm.streams.add(cfg).catch(async (err: unknown) => {
          // Another replica created it between our look and our add.
          if (!(await streamInfoOrNull(jsm, spec.name))) throw err;
        });
      } else if (
        existing.config.max_age !== cfg.max_age ||
        existing.config.duplicate_window !== cfg.duplicate_window ||
        existing.config.subjects.join() !== spec.subjects.join()
      ) {
        await jsm.streams.update(spec.name, { ...existing.config, ...cfg });
      }
    } catch (err) {
      throw provisionFailure(`stream '${spec.name}'`, err);
    }
  }
}

/** Creates or updates each durable consumer (its stream must exist). */
export async function ensureConsumers(jsm: JetStreamManager, specs: readonly ConsumerSpec[]): Promise<void> {
  for (const spec of specs) {
    const cfg = consumerConfig(spec);
    const existing = await consumerInfoOrNull(jsm, spec.stream, spec.durable);
    try {
      if (!existing) {
        await jsm.consumers.add(spec.stream, cfg).catch(async (err: unknown) => {
          if (!(await consumerInfoOrNull(jsm, spec.stream, spec.durable))) throw err;
        });
      } else if (
        existing.config.ack_wait !== cfg.ack_wait ||
        existing.config.max_deliver !== cfg.max_deliver ||
        existing.config.max_ack_pending !== cfg.max_ack_pending
      ) {
        await jsm.consumers.update(spec.stream, spec.durable, {
          ack_wait: cfg.ack_wait as number,
          max_deliver: cfg.max_deliver as number,
          max_ack_pending: cfg.max_ack_pending as number,
        });
      }
    } catch (err) {
      throw provisionFailure(`consumer '${spec.durable}' on '${spec.stream}'`, err);
    }
  }
}

/** How `awaitStreams` waits. */
export interface AwaitOptions {
  log: Logger;
  /** Stops waiting (rejecting) when aborted, e.g. on shutdown. */
  signal?: AbortSignal;
  /** Longest pause between two looks, in ms. Default 2000. */
  maxPollMs?: number;
}

/**
 * Waits until every named stream exists: streams another service owns are opened, never created, and
 * services start in any order. Says that it is waiting (at once, then every 30 s); a refusal or any error other than
 * "not found" is thrown at once (ProvisionError), since waiting cannot fix it.
 */
export async function awaitStreams(jsm: JetStreamManager, names: readonly string[], opts: AwaitOptions): Promise<void> {
  const maxPollMs = opts.maxPollMs ?? 2000;
  for (const name of names) {
    let pause = 100;
    let told = 0;
    while (!(await streamInfoOrNull(jsm, name))) {
      if (opts.signal?.aborted) throw new ProvisionError(`stream '${name}'`, "stopped waiting for it: shutting down");
      // Said at once, then every 30 s: a service that waits is not ready, and the log says why.
      if (Date.now() - told >= 30_000) {
        opts.log.warn({ stream: name }, `waiting for '${name}': the service that owns it has not created it yet`);
        told = Date.now();
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(maxPollMs, pause * 2);
    }
    if (told > 0) opts.log.info({ stream: name }, `'${name}' is there`);
  }
}

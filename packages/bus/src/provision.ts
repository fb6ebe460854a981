import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { ProvisionError } from "./errors.js";
import { ApiCodes, apiErrorCode, permissionViolation, whileTransient } from "./nats-errors.js";
import type { BucketSpec, ConsumerSpec, ObjectStoreSpec, ServiceResources, StreamSpec } from "./specs.js";

/** How many copies JetStream keeps of each stream, bucket and object store (1 = a single server; 3 in a cluster). */
export const DEFAULT_REPLICAS = 1;

function streamConfig(spec: StreamSpec, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    num_replicas: replicas,
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
    if (apiErrorCode(err) === ApiCodes.StreamNotFound) return null;
    throw provisionFailure(`stream '${name}'`, err);
  }
}

async function consumerInfoOrNull(jsm: JetStreamManager, stream: string, durable: string): Promise<ConsumerInfo | null> {
  try {
    return await jsm.consumers.info(stream, durable);
  } catch (err) {
    if (apiErrorCode(err) === ApiCodes.ConsumerNotFound) return null;
    throw provisionFailure(`consumer '${durable}' on '${stream}'`, err);
  }
}

/** True when a stream's stored config differs from its spec in what the spec sets and may change. */
function streamDrifted(existing: StreamInfo, cfg: ReturnType<typeof streamConfig>): boolean {
  return (
    existing.config.max_age !== cfg.max_age ||
    existing.config.duplicate_window !== cfg.duplicate_window ||
    existing.config.num_replicas !== cfg.num_replicas ||
    existing.config.subjects.join() !== (cfg.subjects ?? []).join()
  );
}

/**
 * Creates a stream with `replicas` copies, or updates it to its spec (its replica count included: a cluster
 * scales it up or down). Safe to run from the owner at every start.
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, replicas = DEFAULT_REPLICAS): Promise<void> {
  const cfg = streamConfig(spec, replicas);
  try {
    let existing = await streamInfoOrNull(jsm, spec.name);
    if (!existing) {
      try {
        await jsm.streams.add(cfg);
        return;
      } catch (err) {
        // Another replica created it, with another config, between our look and our add: bring it to spec.
        if (apiErrorCode(err) !== ApiCodes.StreamNameInUse) throw err;
        existing = await jsm.streams.info(spec.name);
      }
    }
    if (streamDrifted(existing, cfg)) await jsm.streams.update(spec.name, { ...existing.config, ...cfg });
  } catch (err) {
    throw provisionFailure(`stream '${spec.name}'`, err);
  }
}

/**
 * Creates a durable consumer, or updates its ack wait and limits to its spec (its stream must exist). A replica
 * adding the same consumer at the same moment is no error: the server accepts an identical add.
 */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const cfg = consumerConfig(spec);
  const existing = await consumerInfoOrNull(jsm, spec.stream, spec.durable);
  try {
    if (!existing) {
      await jsm.consumers.add(spec.stream, cfg);
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

/** The connection and its JetStream manager: what provisioning a bucket or an object store needs. */
export interface ProvisionNats {
  nc: NatsConnection;
  jsm: JetStreamManager;
}

/**
 * Brings the stream behind an existing bucket or object store to `replicas` copies and to the spec's max age: nats.js
 * opens an existing one as it is, so a bucket created on a single server would stay at one copy after the move to a
 * cluster, and a retention set later would never apply. A max age of 0 is "forever".
 */
async function ensureStreamLimits(jsm: JetStreamManager, stream: string, replicas: number, maxAgeSec = 0): Promise<void> {
  const info = await jsm.streams.info(stream);
  const maxAge = nanos(maxAgeSec * 1000);
  if (info.config.num_replicas !== replicas || info.config.max_age !== maxAge) {
    await jsm.streams.update(stream, { ...info.config, num_replicas: replicas, max_age: maxAge });
  }
}

/** Creates a KV bucket with its spec and `replicas` copies, or opens it, bringing it to its spec (idempotent). */
export async function ensureBucket(nats: ProvisionNats, spec: BucketSpec, replicas = DEFAULT_REPLICAS): Promise<void> {
  try {
    await new Kvm(nats.nc).create(spec.name, {
      history: spec.history,
      replicas,
      ...(spec.ttlSec !== undefined ? { ttl: spec.ttlSec * 1000 } : {}),
    });
    await ensureStreamLimits(nats.jsm, `KV_${spec.name}`, replicas, spec.ttlSec);
  } catch (err) {
    throw provisionFailure(`KV bucket '${spec.name}'`, err);
  }
}

/**
 * Creates an Object Store with `replicas` copies and its spec's retention, or opens it, bringing it to both
 * (idempotent). Objects older than `ttlSec` go whole: a name's metadata and chunks are stored together.
 */
export async function ensureObjectStore(nats: ProvisionNats, spec: ObjectStoreSpec, replicas = DEFAULT_REPLICAS): Promise<void> {
  try {
    await new Objm(nats.nc).create(spec.name, {
      replicas,
      // In nanoseconds here (a KV bucket's ttl is in milliseconds).
      ...(spec.ttlSec !== undefined ? { ttl: nanos(spec.ttlSec * 1000) } : {}),
    });
    await ensureStreamLimits(nats.jsm, `OBJ_${spec.name}`, replicas, spec.ttlSec);
  } catch (err) {
    throw provisionFailure(`object store '${spec.name}'`, err);
  }
}

/**
 * Sets up what one service needs: creates (or brings to spec) what it owns with `opts.replicas` copies, waits
 * until what it uses exists (another service creates it; services start in any order), then creates its durable
 * consumers.
 */
export async function setUpResources(
  nats: ProvisionNats,
  resources: ServiceResources,
  opts: AwaitOptions & { replicas?: number },
): Promise<void> {
  const { owns = {}, uses = {}, consumers = [] } = resources;
  const replicas = opts.replicas ?? DEFAULT_REPLICAS;
  // Each step looks before it writes, so it is safe to ask again while a cluster elects its meta leader (a
  // service starting then would otherwise stop on a timeout).
  const settled = <T>(step: () => Promise<T>) => whileTransient(step, PROVISION_TRIES);
  for (const spec of owns.streams ?? []) await settled(() => ensureStream(nats.jsm, spec, replicas));
  for (const spec of owns.buckets ?? []) await settled(() => ensureBucket(nats, spec, replicas));
  for (const spec of owns.objectStores ?? []) await settled(() => ensureObjectStore(nats, spec, replicas));
  const owned = new Set((owns.streams ?? []).map((s) => s.name));
  const needed = new Set([
    ...(uses.streams ?? []),
    ...(uses.buckets ?? []).map((b) => `KV_${b}`),
    ...(uses.objectStores ?? []).map((o) => `OBJ_${o}`),
    ...consumers.map((c) => c.stream).filter((s) => !owned.has(s)),
  ]);
  await awaitStreams(nats.jsm, [...needed], opts);
  for (const spec of consumers) await settled(() => ensureConsumer(nats.jsm, spec));
}

/** Tries of one provisioning step on a transient NATS error (0.5 s … 4 s apart: about 20 s, an election's length). */
const PROVISION_TRIES = 8;

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
 * "not found" or a passing timeout is thrown at once (ProvisionError), since waiting cannot fix it.
 */
export async function awaitStreams(jsm: JetStreamManager, names: readonly string[], opts: AwaitOptions): Promise<void> {
  const maxPollMs = opts.maxPollMs ?? 2000;
  for (const name of names) {
    let pause = 100;
    let told = 0;
    // A look that times out (a cluster electing the stream's or the meta leader) is asked again, as every step is.
    while (!(await whileTransient(() => streamInfoOrNull(jsm, name), PROVISION_TRIES))) {
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

/** A JetStream stream as its owner creates it. */
export interface StreamSpec {
  name: string;
  subjects: readonly string[];
  retention: "workqueue" | "limits";
  maxAgeSec: number;
  /** How long JetStream remembers a msgID to drop a duplicate publish. */
  duplicateWindowSec: number;
}

/** A durable pull consumer. */
export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  /** Seconds before an unacknowledged message is redelivered; handlers extend it with `working()`. */
  ackWaitSec: number;
  maxDeliver: number;
  /**
   * Messages handed out and not yet acknowledged, across all replicas. 1 keeps delivery strictly
   * in order (and lets one slow or failing message hold up every other).
   */
  maxAckPending: number;
}

/** An Object Store with the options its owner creates it with. */
export interface ObjectStoreSpec {
  name: string;
  /** Seconds an object is kept after it was stored (the stream's max age); unset = forever. */
  ttlSec?: number;
}

/** A KV bucket with the options its owner creates it with. */
export interface BucketSpec {
  name: string;
  /** Values kept per key (1–64). */
  history: number;
  /** Seconds a value lives; unset = forever. */
  ttlSec?: number;
}

/**
 * What one service sets up on NATS (`Bus.setUp`). It creates (or brings to their spec) only what it `owns`; what
 * another service owns it only opens (`uses`), waiting until that service has created it, so the services start
 * in any order. A service's NATS user may create nothing else.
 */
export interface ServiceResources {
  owns?: {
    streams?: readonly StreamSpec[];
    buckets?: readonly BucketSpec[];
    objectStores?: readonly ObjectStoreSpec[];
  };
  /** Names of streams, buckets and object stores another service owns and this one needs before it starts. */
  uses?: {
    streams?: readonly string[];
    buckets?: readonly string[];
    objectStores?: readonly string[];
  };
  /** Durable consumers this service reads; it creates them (on its own streams or on ones it uses). */
  consumers?: readonly ConsumerSpec[];
}

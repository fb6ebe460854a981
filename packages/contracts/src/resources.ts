import { BUCKETS, type ConsumerSpec, type StreamSpec } from "./subjects.js";

/** A KV bucket with the options its owner creates it with. */
export interface BucketSpec {
  name: string;
  /** Values kept per key (1–64). */
  history: number;
  /** Seconds a value lives; unset = forever. */
  ttlSec?: number;
}

const DAY = 24 * 3600;

/** Every KV bucket, with its options. Which service owns (creates) each is declared by that service. */
export const BUCKET_SPECS = {
  tasks: { name: BUCKETS.tasks, history: 5 },
  slack: { name: BUCKETS.slack, history: 1, ttlSec: 30 * DAY },
  jobs: { name: BUCKETS.jobs, history: 3 },
  runners: { name: BUCKETS.runners, history: 1, ttlSec: 60 },
  tasksQuarantine: { name: BUCKETS.tasksQuarantine, history: 1 },
  lessons: { name: BUCKETS.lessons, history: 3 },
} as const satisfies Record<keyof typeof BUCKETS, BucketSpec>;

/**
 * What one service sets up on NATS. It creates (or brings to their spec) only what it `owns`; what
 * another service owns it only opens (`uses`), waiting until that service has created it, so the
 * services start in any order. Its NATS user may create nothing else (see `infra/nats-permissions.conf`).
 */
export interface ServiceResources {
  owns?: {
    streams?: readonly StreamSpec[];
    buckets?: readonly BucketSpec[];
    objectStores?: readonly string[];
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

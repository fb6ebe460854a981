import { BUCKETS, OBJECT_STORE, STREAMS } from "./subjects.js";

const DAY = 24 * 3600;

/**
 * Every KV bucket, with the options its owner creates it with (`BucketSpec`s of `@mllead/bus`). Which service
 * owns (creates) each is declared by that service.
 */
export const BUCKET_SPECS = {
  tasks: { name: BUCKETS.tasks, history: 5 },
  slack: { name: BUCKETS.slack, history: 1, ttlSec: 30 * DAY },
  jobs: { name: BUCKETS.jobs, history: 3 },
  runners: { name: BUCKETS.runners, history: 1, ttlSec: 60 },
  tasksQuarantine: { name: BUCKETS.tasksQuarantine, history: 1 },
  lessons: { name: BUCKETS.lessons, history: 3 },
  taskBranches: { name: BUCKETS.taskBranches, history: 5 },
} as const satisfies Record<keyof typeof BUCKETS, { name: string; history: number; ttlSec?: number }>;

/**
 * Every stream, KV bucket and the Object Store, plus the given consumers (`CONSUMERS`), for `Bus.setUp`: what tests and tools
 * set up on a server without users. A service sets up only its own (its NATS user may create nothing else).
 */
export function everyResource<C>(consumers: readonly C[] = []) {
  return {
    owns: {
      streams: Object.values(STREAMS),
      buckets: Object.values(BUCKET_SPECS),
      objectStores: [OBJECT_STORE],
    },
    consumers,
  };
}

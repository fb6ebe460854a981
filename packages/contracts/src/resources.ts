import { BUCKETS, OBJECT_STORE, STREAMS } from "./subjects.js";

const DAY = 24 * 3600;

/**
 * How long a task's objects are kept by default (`MLLEAD_ARTIFACT_RETENTION_DAYS` of the specialists, who own
 * them): artifacts, the task branch's bundles, the files carried between steps, and the branch's record. As long
 * as the task's events (MLLEAD_EVENTS) and its thread state in the gateway.
 */
export const ARTIFACT_RETENTION_DAYS = 30;

/** The Object Store with a retention of `days` (its owner, the specialists, sets it from their config). */
export function objectStoreSpec(days: number = ARTIFACT_RETENTION_DAYS): { name: typeof OBJECT_STORE; ttlSec: number } {
  return { name: OBJECT_STORE, ttlSec: days * DAY };
}

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
  taskBranches: { name: BUCKETS.taskBranches, history: 5, ttlSec: ARTIFACT_RETENTION_DAYS * DAY },
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
      objectStores: [objectStoreSpec()],
    },
    consumers,
  };
}

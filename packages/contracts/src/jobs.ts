import { z } from "zod";
import { Artifact, Id, Metrics, Version } from "./common.js";

/** Limits that keep a job message small enough for NATS' default 1 MiB max payload. */
export const JOB_LIMITS = {
  maxFiles: 20,
  maxFileBytes: 256 * 1024,
  maxTimeoutSec: 7 * 24 * 3600,
  maxGpus: 16,
  /** The largest worktree archive a job may ship (uncompressed bytes); runners refuse more. */
  maxShipBytes: 2 * 1024 * 1024 * 1024,
} as const;

/**
 * The task's worktree shipped with a job: a gzipped tar in the Object Store (named by its git tree id),
 * unpacked by the runner as the job's working directory before `files` and `inputs` are placed over it.
 */
export const JobWorktree = z.object({
  objectName: z.string().min(1).max(400),
  /** The git tree it was packed from (sha1 or sha256). */
  tree: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/),
  /** Size of the archive as stored (compressed bytes). */
  bytes: z.number().int().nonnegative().max(JOB_LIMITS.maxShipBytes),
});
export type JobWorktree = z.infer<typeof JobWorktree>;

/** A training job for a GPU host: the worktree to unpack, files to write, inputs to fetch, a command to run. */
export const GpuJob = z.object({
  v: Version,
  jobId: Id,
  taskId: Id,
  stepId: Id,
  attempt: z.number().int().positive(),
  /** argv; run without a shell in a fresh working directory. */
  command: z.array(z.string().min(1).max(4000)).min(1).max(200),
  /** The worktree to unpack as the job's working directory; absent: an empty one. */
  worktree: JobWorktree.optional(),
  files: z
    .array(
      z.object({
        path: z
          .string()
          .min(1)
          .max(200)
          .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "file paths must stay inside the job directory"),
        content: z.string().max(JOB_LIMITS.maxFileBytes),
      }),
    )
    .max(JOB_LIMITS.maxFiles)
    .default([]),
  /** Object Store artifacts copied into the job directory before it starts. */
  inputs: z
    .array(
      z.object({
        objectName: z.string().min(1).max(400),
        path: z
          .string()
          .min(1)
          .max(200)
          .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "input paths must stay inside the job directory"),
      }),
    )
    .max(JOB_LIMITS.maxFiles)
    .default([]),
  env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string().max(4000)).default({}),
  gpus: z.number().int().min(0).max(JOB_LIMITS.maxGpus).default(1),
  timeoutSec: z.number().int().positive().max(JOB_LIMITS.maxTimeoutSec).default(3600),
  submittedAt: z.iso.datetime({ offset: true }),
});
export type GpuJob = z.infer<typeof GpuJob>;
export type GpuJobInput = z.input<typeof GpuJob>;

export const JobOutcome = z.enum(["succeeded", "failed", "timed_out", "cancelled"]);
export type JobOutcome = z.infer<typeof JobOutcome>;

/** The final word on a job, carried by the `job.finished` event. */
export const JobResult = z.object({
  outcome: JobOutcome,
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  durationMs: z.number().nonnegative(),
  metrics: Metrics.default({}),
  artifacts: z.array(Artifact).max(50).default([]),
  /** Last lines of the job's output, bounded. */
  logTail: z.array(z.string().max(1000)).max(50).default([]),
  host: z.string(),
});
export type JobResult = z.infer<typeof JobResult>;

/**
 * The progress protocol a job speaks on stdout: one line
 * `::mllead-progress {"step":3,"total":20,"metrics":{"loss":0.41}}` per update.
 */
export const PROGRESS_PREFIX = "::mllead-progress ";
export const JobProgress = z.object({
  step: z.number().int().nonnegative(),
  total: z.number().int().positive().optional(),
  metrics: Metrics.default({}),
  message: z.string().max(500).optional(),
});
export type JobProgress = z.infer<typeof JobProgress>;

import { z } from "zod";

/** One GPU as nvidia-smi reports it. Memory in MiB, utilisation in percent; null where the driver says N/A. */
export const GpuInfo = z.looseObject({
  index: z.number().int().nonnegative(),
  uuid: z.string().min(1),
  name: z.string(),
  memoryTotalMiB: z.number().nullable(),
  memoryUsedMiB: z.number().nullable(),
  utilizationPct: z.number().nullable(),
});
export type GpuInfo = z.infer<typeof GpuInfo>;

/**
 * A runner's heartbeat in `mllead_runners` (key = runnerId): the GPU runner writes it every few seconds and the
 * bucket's TTL removes it when the runner dies; the gateway and the scout read it. Fields this schema does not
 * name are kept, not refused, so a newer runner never breaks an older reader.
 */
export const RunnerHeartbeat = z.looseObject({
  runnerId: z.string(),
  host: z.string(),
  gpus: z.array(GpuInfo),
  cpuSlots: z.number().int().positive(),
  /** Job ids this runner holds now (running or waiting for devices). */
  runningJobs: z.array(z.string()),
  /** The Python jobs run here (MLLEAD_PYTHON_ENV, else the system python3): for the planner and the specialists' prompts. */
  python: z
    .object({
      kind: z.string(),
      interpreter: z.string(),
      version: z.string().optional(),
      packages: z.array(z.object({ name: z.string(), version: z.string() })),
    })
    .optional(),
  at: z.iso.datetime({ offset: true }),
});
export type RunnerHeartbeat = z.infer<typeof RunnerHeartbeat>;

import { z } from "zod";

/**
 * A runner's heartbeat in `mllead_runners` as readers see it (the GPU runner writes it and owns its full
 * shape): fields a reader does not use are kept but not checked, so a newer runner never breaks a reader.
 */
export const RunnerBeat = z.looseObject({
  runnerId: z.string(),
  host: z.string(),
  gpus: z
    .array(
      z.looseObject({
        index: z.number(),
        uuid: z.string(),
        name: z.string(),
        memoryTotalMiB: z.number().nullable(),
        memoryUsedMiB: z.number().nullable(),
        utilizationPct: z.number().nullable(),
      }),
    )
    .default([]),
  cpuSlots: z.number().default(0),
  runningJobs: z.array(z.string()).default([]),
  at: z.string(),
});
export type RunnerBeat = z.infer<typeof RunnerBeat>;

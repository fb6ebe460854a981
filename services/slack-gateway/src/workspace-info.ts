import { type AgentDefinition, loadAgents } from "@mllead/agents";
import type { Bus } from "@mllead/bus";
import { BUCKETS } from "@mllead/contracts";
import { z } from "zod";
import { JobView } from "./store.js";

/**
 * A runner's heartbeat as the gateway reads it from `mllead_runners` (read-only; the GPU runner
 * writes it and owns its full shape). Fields the gateway does not show are kept but not checked.
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

/** The runners beating now (their heartbeats expire 60 s after the last beat), by host; none before any runner started. */
export async function readRunners(bus: Bus): Promise<RunnerBeat[]> {
  const kv = await bus.kvIfExists(BUCKETS.runners, RunnerBeat);
  if (!kv) return [];
  const out: RunnerBeat[] = [];
  for (const k of await kv.keys()) {
    const v = await kv.get(k).catch(() => null);
    if (v) out.push(v.value);
  }
  return out.sort((a, b) => a.host.localeCompare(b.host));
}

/** Every GPU job the gateway has drawn a message for (what its events said), newest state each. */
export async function readJobs(bus: Bus): Promise<JobView[]> {
  const kv = await bus.kv(BUCKETS.slack, JobView);
  const out: JobView[] = [];
  for (const k of await kv.keys("job.*")) {
    const v = await kv.get(k).catch(() => null);
    if (v) out.push(v.value);
  }
  return out;
}

/** The agent files the specialists load: the project's, with MLLEAD_AGENTS_DIR's replacing them by name. */
export async function readAgents(dir: string | undefined): Promise<AgentDefinition[]> {
  const agents = await loadAgents(dir ? { dir } : {});
  return [...agents.values()].sort((a, b) => a.name.localeCompare(b.name));
}

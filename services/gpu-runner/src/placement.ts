import { InvalidRecordError, type TypedKv } from "@mllead/bus";
import type { RunnerHeartbeat } from "@mllead/contracts";

type Heartbeats = TypedKv<typeof RunnerHeartbeat>;

/** The heartbeats of the other runners (one deleted since the listing, or one that does not parse, is no runner). */
async function otherRunners(runners: Heartbeats, me: string): Promise<RunnerHeartbeat[]> {
  const out: RunnerHeartbeat[] = [];
  for (const key of await runners.keys()) {
    if (key === me) continue;
    const hb = await runners.get(key).catch((err: unknown) => {
      if (err instanceof InvalidRecordError) return null;
      throw err;
    });
    if (hb) out.push(hb.value);
  }
  return out;
}

/** Whether some other live runner has at least `gpus` GPUs (so this host should not take the job). */
export async function otherRunnerFits(runners: Heartbeats, me: string, gpus: number): Promise<boolean> {
  return (await otherRunners(runners, me)).some((hb) => hb.gpus.length >= gpus);
}

/**
 * Whether another runner that beat within `freshMs` has room for a job of `gpus` GPUs now: a job waiting here for
 * busy devices is better handed on. A heartbeat lists held jobs, not which devices they hold, so room is an
 * estimate on the safe side: a GPU job needs as many GPUs as that runner has beyond one per held job; any other
 * job needs a held-job count below its GPUs and CPU slots. A GPU job waiting on a GPU host (`gpuHost`) is never
 * handed to a host without GPUs (which would hand it back as better placed elsewhere).
 */
export async function otherRunnerFree(
  runners: Heartbeats,
  me: { runnerId: string; gpuHost: boolean },
  gpus: number,
  freshMs: number,
): Promise<boolean> {
  const now = Date.now();
  return (await otherRunners(runners, me.runnerId)).some((hb) => {
    if (now - Date.parse(hb.at) > freshMs) return false;
    if (gpus > 0 && me.gpuHost && hb.gpus.length === 0) return false;
    if (gpus > 0 && hb.gpus.length > 0) return hb.gpus.length - hb.runningJobs.length >= gpus;
    return hb.runningJobs.length < hb.gpus.length + hb.cpuSlots;
  });
}

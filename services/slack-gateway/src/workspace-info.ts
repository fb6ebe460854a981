import { type AgentDefinition, loadAgents } from "@mllead/agents";
import type { Bus } from "@mllead/bus";
import { BUCKETS, RunnerHeartbeat } from "@mllead/contracts";
import type { Logger } from "pino";
import { readValues } from "./kv-values.js";
import { JobView } from "./store.js";

/** The runners beating now (their heartbeats expire 60 s after the last beat), by host; none before any runner started. */
export async function readRunners(bus: Bus, log: Pick<Logger, "warn">): Promise<RunnerHeartbeat[]> {
  const kv = await bus.kvIfExists(BUCKETS.runners, RunnerHeartbeat);
  if (!kv) return [];
  const out = await readValues(kv, await kv.keys(), log);
  return out.sort((a, b) => a.host.localeCompare(b.host));
}

/** Every GPU job the gateway has drawn a message for (what its events said), newest state each. */
export async function readJobs(bus: Bus, log: Pick<Logger, "warn">): Promise<JobView[]> {
  const kv = await bus.kv(BUCKETS.slack, JobView);
  return readValues(kv, await kv.keys("job.*"), log);
}

/** The agent files the specialists load: the project's, with MLLEAD_AGENTS_DIR's replacing them by name. */
export async function readAgents(dir: string | undefined): Promise<AgentDefinition[]> {
  const agents = await loadAgents(dir ? { dir } : {});
  return [...agents.values()].sort((a, b) => a.name.localeCompare(b.name));
}

import type { AgentDefinition } from "@mllead/agents";
import type { RunnerHeartbeat } from "@mllead/contracts";
import type { JobView, SlackStore } from "../store.js";
import { esc, truncate } from "./blocks.js";
import { progressBar } from "./jobs.js";

/** `A100 80GB · 12.0/80.0 GiB · 35%` for one GPU. */
export function gpuLine(g: RunnerHeartbeat["gpus"][number]): string {
  const mem =
    g.memoryTotalMiB !== null
      ? ` · ${((g.memoryUsedMiB ?? 0) / 1024).toFixed(1)}/${(g.memoryTotalMiB / 1024).toFixed(1)} GiB`
      : "";
  const util = g.utilizationPct !== null ? ` · ${g.utilizationPct}%` : "";
  return `\`${g.index}\` ${esc(g.name)}${mem}${util}`;
}

/** A runner on a line (and its GPUs under it). */
export function runnerLines(r: RunnerHeartbeat): string {
  const busy = r.runningJobs.length ? `${r.runningJobs.length} job${r.runningJobs.length === 1 ? "" : "s"} running` : "idle";
  const what = r.gpus.length
    ? `${r.gpus.length} GPU${r.gpus.length === 1 ? "" : "s"}`
    : `CPU only (${r.cpuSlots} slot${r.cpuSlots === 1 ? "" : "s"})`;
  return [`• *${esc(r.host)}* — ${what} · ${busy}`, ...r.gpus.map((g) => `    ${gpuLine(g)}`)].join("\n");
}

/** The runners, or a sentence saying none is beating. */
export function renderRunners(runners: readonly RunnerHeartbeat[]): string {
  if (runners.length === 0) return "*Runners:* none is beating — GPU jobs wait until a runner starts.";
  const gpus = runners.reduce((n, r) => n + r.gpus.length, 0);
  return `*Runners (${runners.length}, ${gpus} GPU${gpus === 1 ? "" : "s"})*\n${runners.map(runnerLines).join("\n")}`;
}

function jobLine(j: JobView): string {
  const where = j.host ? ` on \`${esc(j.host)}\`` : "";
  const p = j.progress;
  const progress = p ? ` · ${p.total ? `\`${progressBar(p.step / p.total, 10)}\`` : `step ${p.step}`}` : "";
  return `• \`${esc(j.jobId)}\` — ${j.state === "queued" ? ":hourglass_flowing_sand: queued" : ":arrows_counterclockwise: running"}${where}${progress} · task \`${esc(j.taskId)}\`, step \`${esc(j.stepId)}\``;
}

/** The answer to `/mllead jobs`: the unfinished jobs of this channel's tasks, and the runners. */
export async function renderJobs(
  jobs: readonly JobView[],
  runners: readonly RunnerHeartbeat[],
  channel: string | undefined,
  store: SlackStore | undefined,
): Promise<string> {
  const open = jobs.filter((j) => j.state !== "finished");
  const here: JobView[] = [];
  let elsewhere = 0;
  for (const j of open) {
    const link = store ? await store.task(j.taskId) : null;
    if (!channel || link?.channel === channel) here.push(j);
    else elsewhere++;
  }
  const head = here.length
    ? `*GPU jobs of this channel's tasks (${here.length})*\n${here.slice(0, 30).map(jobLine).join("\n")}`
    : "*No GPU job of this channel's tasks is queued or running.*";
  const other = elsewhere ? `\n_${elsewhere} more in other channels._` : "";
  return truncate(`${head}${other}\n\n${renderRunners(runners)}`, 3900);
}

/** The answer to `/mllead agents`: each agent file's name, model, tools and description. */
export function renderAgents(agents: readonly AgentDefinition[]): string {
  if (agents.length === 0) return "*Agents:* no agent files were found.";
  const lines = agents.map((a) => {
    const tools = a.tools.length ? a.tools.map((t) => `\`${esc(t)}\``).join(" ") : "all tools";
    return `• *${esc(a.name)}* · model \`${esc(a.model ?? "inherit")}\` · ${tools}\n    ${esc(truncate(a.description.replace(/\s+/g, " "), 240))}`;
  });
  return truncate(`*Agents (${agents.length})*\n${lines.join("\n")}`, 3900);
}

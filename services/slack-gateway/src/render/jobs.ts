import type { BrainKind } from "@mllead/contracts";
import type { ArtifactLinker } from "../artifact-links.js";
import type { OutgoingMessage } from "../slack-api.js";
import type { JobView } from "../store.js";
import { esc, fallback, section, truncate, withBrain } from "./blocks.js";
import { artifactsLine } from "./files.js";
import { formatMetrics } from "./steps.js";

const OUTCOME: Record<string, string> = {
  succeeded: ":white_check_mark: succeeded",
  failed: ":x: failed",
  timed_out: ":stopwatch: timed out",
  cancelled: ":no_entry_sign: cancelled",
};

/** `▓▓▓▓▓░░░░░ 50%` for a fraction in [0, 1]. */
export function progressBar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(f * width);
  return `${"▓".repeat(filled)}${"░".repeat(width - filled)} ${Math.round(f * 100)}%`;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** One message per GPU job, redrawn whole from everything known about it. */
export function renderJob(job: JobView, brain: BrainKind | undefined, links?: ArtifactLinker | null): OutgoingMessage {
  const lines: string[] = [`:gear: *GPU job* \`${esc(job.jobId)}\` for step \`${esc(job.stepId)}\``];
  if (job.state === "queued") lines.push(`:hourglass_flowing_sand: queued · waiting for ${job.gpus ?? 1} GPU(s)`);
  if (job.state === "running") {
    const devices = job.devices?.length ? ` · GPUs ${job.devices.map(esc).join(", ")}` : "";
    lines.push(`:arrows_counterclockwise: running on \`${esc(job.host ?? "?")}\`${devices}`);
  }
  if (job.progress && job.state !== "finished") {
    const p = job.progress;
    lines.push(p.total ? `\`${progressBar(p.step / p.total)}\` step ${p.step}/${p.total}` : `step ${p.step}`);
    if (Object.keys(p.metrics).length) lines.push(`*Last metrics:* ${formatMetrics(p.metrics)}`);
    if (p.message) lines.push(`_${esc(p.message)}_`);
  }
  if (job.result) {
    const r = job.result;
    lines.push(`${OUTCOME[r.outcome] ?? r.outcome} on \`${esc(r.host)}\` in ${duration(r.durationMs)}`);
    if (Object.keys(r.metrics).length) lines.push(`*Metrics:* ${formatMetrics(r.metrics)}`);
    if (r.artifacts.length) lines.push(artifactsLine(r.artifacts, links));
    if (r.outcome !== "succeeded" && r.logTail.length) {
      // A job's output is untrusted text: escaped like any other, inside the code block too.
      const tail = esc(truncate(r.logTail.slice(-15).join("\n").replace(/```/g, "ʼʼʼ"), 1500));
      lines.push(`*Last log lines:*\n\`\`\`${tail}\`\`\``);
    }
  }
  const state = job.result ? job.result.outcome : job.state;
  return { text: fallback(`GPU job ${job.jobId}: ${state}`), blocks: withBrain([section(lines.join("\n"))], brain) };
}

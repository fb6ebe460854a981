import type { Artifact, JobResult } from "@mllead/contracts";
import { ToolInputError } from "../errors.js";
import type { ShippedWorktree, StepTools } from "../types.js";
import { workspacePath } from "./paths.js";
import type { SubmitGpuJobInput } from "./schemas.js";

/** Job artifacts up to this size are copied back into the workspace (`runs/<jobId>/`); bigger ones stay in the store. */
const COPY_BACK_BYTES = 5 * 1024 * 1024;
const MAX_FILE_BYTES = 256 * 1024;

/** What a finished job left in the workspace, for the model and the step result. */
export interface SubmittedJob {
  jobId: string;
  result: JobResult;
  /** Workspace paths of the artifacts copied back. */
  copied: string[];
  text: string;
}

/**
 * `SubmitGpuJob`: ships the worktree as it is now (tracked and new files, not ignored ones; the port packs
 * and uploads it within its size limit), plus the named files and larger inputs through the artifact
 * store, to the GPU queue; waits for the job, copies its small artifacts back
 * into `runs/<jobId>/`, and reports outcome, metrics, artifacts and the log tail.
 * The tools derive the job id from the job's content, so a resumed loop that
 * submits the same job re-attaches to it instead of running it twice. The wait
 * stops when `signal` aborts (the step's time limit); the job itself runs on.
 */
export async function submitGpuJobTool(tools: StepTools, input: SubmitGpuJobInput, signal?: AbortSignal): Promise<SubmittedJob> {
  const files: { path: string; content: string }[] = [];
  for (const f of input.files ?? []) {
    const path = workspacePath(tools.root, f);
    const content = await tools.readFile(path);
    if (Buffer.byteLength(content) > MAX_FILE_BYTES) {
      throw new ToolInputError(`${path} is over 256 KiB; pass it in 'inputs' instead of 'files'`);
    }
    files.push({ path, content });
  }
  const inputs: { objectName: string; path: string }[] = [];
  for (const f of input.inputs ?? []) {
    const path = workspacePath(tools.root, f);
    const saved = await tools.saveArtifact(path);
    inputs.push({ objectName: saved.objectName, path });
  }
  await tools.progress(`Submitting a GPU job: ${input.description ?? input.command.join(" ").slice(0, 200)}`);
  const { jobId, result, shipped } = await tools.runGpuJob(
    {
      command: input.command,
      worktree: true,
      files,
      inputs,
      ...(input.env ? { env: input.env } : {}),
      gpus: input.gpus ?? 1,
      ...(input.timeout_sec ? { timeoutSec: input.timeout_sec } : {}),
    },
    signal ? { signal } : {},
  );
  const copied = await copyBack(tools, jobId, result.artifacts);
  return { jobId, result, copied, text: describeJob(jobId, result, copied, shipped) };
}

async function copyBack(tools: StepTools, jobId: string, artifacts: Artifact[]): Promise<string[]> {
  const copied: string[] = [];
  for (const a of artifacts) {
    if (a.bytes > COPY_BACK_BYTES) continue;
    const path = `runs/${jobId}/${a.name}`;
    await tools.fetchArtifact(a, path);
    copied.push(path);
  }
  return copied;
}

function describeShipped(s: ShippedWorktree | undefined): string {
  if (!s) return "";
  const mb = (s.bytes / 1024 / 1024).toFixed(1);
  const left = s.leftOut.length
    ? `; left out: ${s.leftOut.slice(0, 10).join(", ")}${s.leftOut.length > 10 ? ` and ${s.leftOut.length - 10} more` : ""} (pass them in 'inputs' if the job needs them)`
    : "";
  return `shipped the working directory: ${s.files} files, ${mb} MiB compressed${left}`;
}

function describeJob(jobId: string, r: JobResult, copied: string[], shipped?: ShippedWorktree): string {
  const metrics = Object.entries(r.metrics)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return [
    `job ${jobId} ${r.outcome} on ${r.host} in ${(r.durationMs / 1000).toFixed(1)} s (exit code ${r.exitCode ?? "none"}${r.signal ? `, ${r.signal}` : ""})`,
    describeShipped(shipped),
    `metrics: ${metrics || "none (write metrics.json in the job directory to report some)"}`,
    `artifacts: ${r.artifacts.map((a) => `${a.name} (${a.bytes} bytes)`).join(", ") || "none"}`,
    copied.length ? `copied into the workspace: ${copied.join(", ")}` : "",
    r.logTail.length ? `log tail:\n${r.logTail.slice(-30).join("\n")}` : "",
  ]
    .filter(Boolean)
    .join("\n");
}

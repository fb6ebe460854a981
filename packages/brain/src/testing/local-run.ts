import { copyFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { contentTypeFor } from "@mllead/bus";
import { type Artifact, JobProgress, type JobProgress as JobProgressT, type JobResult, PROGRESS_PREFIX } from "@mllead/contracts";
import { hasCode, listFiles, MISSING, resolveInside, runCommand } from "@mllead/sandbox";
import type { Logger } from "pino";
import type { CommandResult, GpuJobSpec, ShippedWorktree } from "../types.js";

const MAX_OUTPUT = 1024 * 1024;

/** Resolves a relative path inside `root`, refusing anything that escapes it. */
export function inside(root: string, path: string): string {
  const full = resolveInside(root, path);
  if (full === undefined) throw new Error(`path '${path}' leaves the workspace`);
  return full;
}

/**
 * Runs argv in the shared sandbox (own process group, killed on timeout). A test
 * helper: children inherit this process's environment (PATH finds python3) plus the extras.
 */
export function exec(
  argv: string[],
  cwd: string,
  extra: Record<string, string> | undefined,
  timeoutSec: number,
  signal: AbortSignal | undefined,
  onLine?: (line: string) => void,
): Promise<CommandResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...extra })) if (v !== undefined) env[k] = v;
  const base = { cwd, env, timeoutMs: timeoutSec * 1000, maxOutputBytes: MAX_OUTPUT, ...(signal ? { signal } : {}) };
  if (!onLine) return runCommand(argv, base);
  const decoder = new StringDecoder("utf8");
  let pending = "";
  const split = (text: string) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const l of lines) onLine(l);
  };
  return runCommand(argv, { ...base, onStdout: (chunk) => split(decoder.write(chunk)) }).then((r) => {
    split(decoder.end());
    if (pending) onLine(pending);
    return r;
  });
}

/** One GPU job that ran locally, for assertions. */
export interface LocalJobRecord {
  jobId: string;
  spec: GpuJobSpec;
  dir: string;
  progress: JobProgressT[];
  result: JobResult;
}

/** Where a local job runs and what it may reach. */
interface LocalJobPlace {
  taskId: string;
  /** The job's own directory (its working directory). */
  dir: string;
  /** The artifact store directory, by object name. */
  store: string;
  log: Logger;
  /** The worktree's files as the specialist ships them (Glob's listing), relative to `workspace`. */
  worktreeFiles(): Promise<string[]>;
  workspace: string;
}

/** A `::mllead-progress` line's report, or undefined for any other line (a malformed one is logged). */
function progressOf(line: string, log: Logger): JobProgressT | undefined {
  if (!line.startsWith(PROGRESS_PREFIX)) return undefined;
  try {
    const p = JobProgress.safeParse(JSON.parse(line.slice(PROGRESS_PREFIX.length)));
    return p.success ? p.data : undefined;
  } catch (err) {
    // A malformed progress line is only a log line, as on a runner.
    log.debug({ err, line }, "local job: a progress line is not JSON");
    return undefined;
  }
}

/** The job's metrics.json, finite numbers only; none when the job wrote none (an unreadable one is logged). */
async function metricsOf(out: string, log: Logger): Promise<Record<string, number>> {
  const metrics: Record<string, number> = {};
  let text: string;
  try {
    text = await readFile(join(out, "metrics.json"), "utf8");
  } catch (err) {
    if (hasCode(err, MISSING)) return metrics;
    throw err;
  }
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    for (const [k, v] of Object.entries(raw)) if (typeof v === "number" && Number.isFinite(v)) metrics[k] = v;
  } catch (err) {
    log.warn({ err }, "local job: metrics.json is not JSON; the job reports none");
  }
  return metrics;
}

/** Lays the job's directory out as a runner would: the worktree (when shipped), then its files and inputs over it. */
async function layOut(place: LocalJobPlace, spec: GpuJobSpec): Promise<ShippedWorktree | undefined> {
  let shipped: ShippedWorktree | undefined;
  if (spec.worktree) {
    // The worktree as the specialist ships it: every file Glob sees (ignored ones left out), copied as it is.
    const files = await place.worktreeFiles();
    let bytes = 0;
    for (const rel of files) {
      const full = inside(place.dir, rel);
      await mkdir(dirname(full), { recursive: true });
      await copyFile(join(place.workspace, rel), full);
      bytes += (await stat(full)).size;
    }
    shipped = { files: files.length, bytes, leftOut: [] };
  }
  for (const f of spec.files ?? []) {
    const full = inside(place.dir, f.path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, f.content);
  }
  for (const i of spec.inputs ?? []) {
    const full = inside(place.dir, i.path);
    await mkdir(dirname(full), { recursive: true });
    await copyFile(inside(place.store, i.objectName), full);
  }
  return shipped;
}

/** Copies a file into the store under `objectName`. */
async function putObject(
  store: string,
  objectName: string,
  source: string,
  name: string,
  contentType: string,
): Promise<Artifact> {
  const target = inside(store, objectName);
  await mkdir(dirname(target), { recursive: true });
  await copyFile(source, target);
  return { name, objectName, contentType, bytes: (await stat(target)).size };
}

/**
 * Runs a GPU job's command locally in its own directory with `MLLEAD_ARTIFACTS_DIR` set (no GPU:
 * `CUDA_VISIBLE_DEVICES` empty), and reports it as a runner would: outcome, metrics, artifacts, log tail.
 */
export async function runLocalJob(
  place: LocalJobPlace,
  jobId: string,
  spec: GpuJobSpec,
  signal: AbortSignal | undefined,
): Promise<{ record: LocalJobRecord; shipped?: ShippedWorktree }> {
  const out = join(place.dir, "artifacts");
  await mkdir(out, { recursive: true });
  const shipped = await layOut(place, spec);
  const progress: JobProgressT[] = [];
  const started = Date.now();
  const env = { ...(spec.env ?? {}), MLLEAD_ARTIFACTS_DIR: out, CUDA_VISIBLE_DEVICES: "" };
  const r = await exec(spec.command, place.dir, env, spec.timeoutSec ?? 3600, signal, (line) => {
    const p = progressOf(line, place.log);
    if (p) progress.push(p);
  });
  const artifacts: Artifact[] = [];
  for (const rel of await listFiles(out)) {
    const objectName = `${place.taskId}/jobs/${jobId}/${rel}`;
    artifacts.push(await putObject(place.store, objectName, join(out, rel), rel, contentTypeFor(rel)));
  }
  const result: JobResult = {
    outcome: r.timedOut ? "timed_out" : r.exitCode === 0 ? "succeeded" : "failed",
    exitCode: r.exitCode,
    signal: r.timedOut ? "SIGKILL" : null,
    durationMs: Date.now() - started,
    metrics: await metricsOf(out, place.log),
    artifacts,
    logTail: `${r.stdout}\n${r.stderr}`
      .trim()
      .split("\n")
      .slice(-50)
      .map((l) => l.slice(0, 1000)),
    host: "local",
  };
  const record = { jobId, spec, dir: place.dir, progress, result };
  return shipped ? { record, shipped } : { record };
}

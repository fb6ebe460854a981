import { constants } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { contentTypeFor, getFile, putFile } from "@mllead/bus";
import { type Artifact, type Metrics, OBJECT_KEYS } from "@mllead/contracts";
import { listFiles, MISSING, onCode } from "@mllead/sandbox";
import type { ObjectStore } from "@nats-io/obj";
import type { Logger } from "pino";
import { MissingInputError } from "./errors.js";

/** Most artifacts one job may keep (`JobResult.artifacts` holds 50, one is `job.log`). */
export const MAX_ARTIFACTS = 49;

/** Where a job's artifact lives in the Object Store. */
export function artifactObjectName(taskId: string, jobId: string, name: string): string {
  return OBJECT_KEYS.jobArtifact(taskId, jobId, name);
}

/** The largest metrics.json read (bytes); a bigger one is ignored. */
const MAX_METRICS_BYTES = 1024 * 1024;

/**
 * The text of the job's metrics.json, or null: none written, or one the runner does not read — anything but a
 * regular file (a FIFO would block the read, a link could lead to a host file), or over MAX_METRICS_BYTES.
 */
async function readMetricsText(path: string, log: Logger): Promise<string | null> {
  // O_NONBLOCK: opening a FIFO the job left must not wait for a writer.
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    onCode([...MISSING, "ELOOP"], null),
  );
  if (handle === null) return null;
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size > MAX_METRICS_BYTES) {
      log.warn({ path, size: info.size }, "metrics.json is not a regular file of at most 1 MiB; ignoring it");
      return null;
    }
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/**
 * Reads `metrics.json`: a flat object of numbers. Anything else (bad JSON, nested
 * values, strings) is ignored with a log line; a missing file means no metrics.
 */
export async function readMetrics(path: string, log: Logger): Promise<Metrics> {
  const text = await readMetricsText(path, log);
  if (text === null) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    log.warn({ err, path }, "metrics.json is not JSON; ignoring it");
    return {};
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    log.warn({ path }, "metrics.json is not a JSON object; ignoring it");
    return {};
  }
  const metrics: Metrics = {};
  const skipped: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === "number" && Number.isFinite(v)) metrics[k] = v;
    else skipped.push(k);
  }
  if (skipped.length > 0)
    log.warn({ path, skipped: skipped.slice(0, 20) }, "metrics.json values that are not numbers were ignored");
  return metrics;
}

/** Uploads one file to the Object Store and describes it as an Artifact. */
export async function uploadFile(os: ObjectStore, path: string, name: string, objectName: string): Promise<Artifact> {
  const contentType = contentTypeFor(name);
  const bytes = await putFile(os, objectName, path, { description: contentType });
  return { name, objectName, contentType, bytes };
}

/**
 * Uploads the files of a job's artifacts directory under
 * `tasks/<taskId>/jobs/<jobId>/<name>`. Files over `maxBytes`, names over 200
 * characters and files past the artifact limit are skipped with a log line.
 */
export async function uploadArtifacts(opts: {
  os: ObjectStore;
  dir: string;
  taskId: string;
  jobId: string;
  maxBytes: number;
  log: Logger;
}): Promise<Artifact[]> {
  const out: Artifact[] = [];
  for (const name of await listFiles(opts.dir)) {
    const path = join(opts.dir, ...name.split("/"));
    if (out.length >= MAX_ARTIFACTS) {
      opts.log.warn({ name }, `more than ${MAX_ARTIFACTS} artifacts; the rest are not kept`);
      break;
    }
    if (name.length > 200) {
      opts.log.warn({ name: name.slice(0, 80) }, "artifact name is longer than 200 characters; skipped");
      continue;
    }
    const size = (await stat(path)).size;
    if (size > opts.maxBytes) {
      opts.log.warn({ name, size, maxBytes: opts.maxBytes }, "artifact is too large; skipped");
      continue;
    }
    out.push(await uploadFile(opts.os, path, name, artifactObjectName(opts.taskId, opts.jobId, name)));
  }
  return out;
}

/** Copies an Object Store object into the job directory. Throws MissingInputError when it does not exist. */
export async function downloadInput(os: ObjectStore, objectName: string, dest: string): Promise<void> {
  if (!(await getFile(os, objectName, dest))) throw new MissingInputError(`input '${objectName}' is not in the object store`);
}

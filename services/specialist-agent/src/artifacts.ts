import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { dirname, extname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { Bus } from "@mllead/bus";
import type { Artifact } from "@mllead/contracts";
import { ArtifactNotFoundError, infra, StepToolError } from "./errors.js";
import type { Workspace } from "./workspace.js";

/** Content types by extension, for the files specialists usually produce. */
const CONTENT_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
  ".pdf": "application/pdf",
  ".json": "application/json",
  ".csv": "text/csv",
  ".txt": "text/plain",
  ".log": "text/plain",
  ".md": "text/markdown",
  ".html": "text/html",
  ".py": "text/x-python",
  ".ipynb": "application/x-ipynb+json",
  ".parquet": "application/vnd.apache.parquet",
};

/** The content type of a file name, by extension (octet-stream when unknown). */
export function contentTypeFor(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

/** The Object Store name of a step's artifact: `tasks/<taskId>/<stepId>/<path>`. */
export function artifactObjectName(taskId: string, stepId: string, path: string): string {
  return `tasks/${taskId}/${stepId}/${path}`;
}

/** Uploads a workspace file to the Object Store under the step and describes it. */
export async function saveArtifact(
  bus: Bus,
  ws: Workspace,
  owner: { taskId: string; stepId: string },
  path: string,
  contentType?: string,
): Promise<Artifact> {
  const abs = await ws.resolve(path);
  const info = await stat(abs).catch(() => null);
  if (!info?.isFile()) throw new StepToolError(`no file '${path}' in the workspace to save`);
  const rel = ws.relative(abs);
  const objectName = artifactObjectName(owner.taskId, owner.stepId, rel);
  const store = await infra("opening the artifact store", () => bus.objects());
  const body = Readable.toWeb(createReadStream(abs)) as unknown as ReadableStream<Uint8Array>;
  const stored = await infra("uploading the artifact", () => store.put({ name: objectName }, body));
  return { name: rel, objectName, contentType: contentType ?? contentTypeFor(rel), bytes: stored.size };
}

/** Downloads an artifact from the Object Store into the workspace at `path`. */
export async function fetchArtifact(bus: Bus, ws: Workspace, objectName: string, path: string): Promise<void> {
  const abs = await ws.resolve(path);
  const store = await infra("opening the artifact store", () => bus.objects());
  const obj = await infra("downloading the artifact", () => store.get(objectName));
  if (!obj) throw new ArtifactNotFoundError(objectName);
  await mkdir(dirname(abs), { recursive: true });
  await infra("downloading the artifact", async () => {
    await pipeline(Readable.fromWeb(obj.data as unknown as WebReadableStream<Uint8Array>), createWriteStream(abs));
    const err = await obj.error;
    if (err) throw err;
  });
}

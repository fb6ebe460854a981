import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { type Bus, contentTypeFor } from "@mllead/bus";
import { type Artifact, OBJECT_KEYS, OBJECT_STORE } from "@mllead/contracts";
import { ArtifactDownloadError, ArtifactNotFoundError, infra } from "./errors.js";
import type { Workspace } from "./workspace.js";

/** The Object Store name of a step's artifact: `tasks/<taskId>/<stepId>/<path>`. */
export function artifactObjectName(taskId: string, stepId: string, path: string): string {
  return OBJECT_KEYS.stepArtifact(taskId, stepId, path);
}

/**
 * Uploads a workspace file to the Object Store under the step and describes it. The file is opened
 * through the workspace (never through a link out of it) and streamed from that handle.
 */
export async function saveArtifact(
  bus: Bus,
  ws: Workspace,
  owner: { taskId: string; stepId: string },
  path: string,
  contentType?: string,
): Promise<Artifact> {
  const file = await ws.openFile(path);
  const stream = file.handle.createReadStream();
  try {
    const objectName = artifactObjectName(owner.taskId, owner.stepId, file.path);
    const store = await infra("opening the artifact store", () => bus.objectStore(OBJECT_STORE));
    const body = Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
    const info = await infra("uploading the artifact", () => store.put({ name: objectName }, body));
    return { name: file.path, objectName, contentType: contentType ?? contentTypeFor(file.path), bytes: info.size };
  } finally {
    // A stream left unfinished (a failed upload) holds the handle open: close() would wait for it.
    stream.destroy();
    await file.handle.close();
  }
}

/**
 * Downloads an artifact from the Object Store into the workspace at `path`, through a temporary file
 * renamed into place (never written through a link), so a failed download leaves the old file.
 */
export async function fetchArtifact(bus: Bus, ws: Workspace, objectName: string, path: string): Promise<void> {
  const store = await infra("opening the artifact store", () => bus.objectStore(OBJECT_STORE));
  const obj = await infra("downloading the artifact", () => store.get(objectName));
  if (!obj) throw new ArtifactNotFoundError(`artifact '${objectName}' does not exist`);
  await ws.replaceFile(path, async (handle) => {
    const data = Readable.fromWeb(obj.data as unknown as WebReadableStream<Uint8Array>);
    await infra("downloading the artifact", () => pipeline(data, handle.createWriteStream()));
    const err = await obj.error;
    if (err) throw new ArtifactDownloadError(`downloading artifact '${objectName}' failed: ${err.message}`, { cause: err });
  });
}

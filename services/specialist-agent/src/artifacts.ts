import { stat } from "node:fs/promises";
import { type Bus, contentTypeFor, getFile, putFile } from "@mllead/bus";
import type { Artifact } from "@mllead/contracts";
import { ArtifactNotFoundError, infra, StepToolError } from "./errors.js";
import type { Workspace } from "./workspace.js";

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
  const bytes = await infra("uploading the artifact", () => putFile(store, objectName, abs));
  return { name: rel, objectName, contentType: contentType ?? contentTypeFor(rel), bytes };
}

/** Downloads an artifact from the Object Store into the workspace at `path`. */
export async function fetchArtifact(bus: Bus, ws: Workspace, objectName: string, path: string): Promise<void> {
  const abs = await ws.resolve(path);
  const store = await infra("opening the artifact store", () => bus.objects());
  const found = await infra("downloading the artifact", () => getFile(store, objectName, abs));
  if (!found) throw new ArtifactNotFoundError(objectName);
}

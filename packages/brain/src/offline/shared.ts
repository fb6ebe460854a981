import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Finding, StepWork } from "@mllead/contracts";
import { JobScriptMissingError } from "../errors.js";
import { requestRequirement } from "./criteria.js";

/** The shipped job scripts: `<repo>/jobs` (this file lives in `packages/brain/src/offline/`). */
export const DEFAULT_JOBS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../jobs");

/** Where a specialist finds the shipped scripts. */
export interface OfflineContext {
  jobsDir: string;
}

/** Reads one shipped script, e.g. `train.py`. */
export async function readJob(ctx: OfflineContext, name: string): Promise<string> {
  try {
    return await readFile(join(ctx.jobsDir, name), "utf8");
  } catch (err) {
    throw new JobScriptMissingError(join(ctx.jobsDir, name), { cause: err });
  }
}

/** The base name of a path or artifact name. */
export function baseName(path: string): string {
  return path.split("/").pop() ?? path;
}

/** The reviewer's findings this step must address on a fix round. */
export function findingsFor(work: StepWork): Finding[] {
  return work.findings.filter((f) => f.ownerStepId === undefined || f.ownerStepId === work.stepId);
}

/** The requirements people added in plan review (as the offline planner words them), echoed so the result answers them. */
export function reviewRequests(work: StepWork): string[] {
  const prefix = requestRequirement("").slice(0, -2);
  return work.step.requirements.filter((r) => r.startsWith(prefix));
}

/** Rounds for display. */
export function fmt(n: number | undefined, digits = 3): string {
  return n === undefined || !Number.isFinite(n) ? "n/a" : n.toFixed(digits);
}

import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { AcceptanceCriterion, Artifact, Finding, StepResult, StepWork, UpstreamResult } from "@mllead/contracts";
import { JobScriptMissingError } from "../errors.js";
import type { CommandResult } from "../types.js";

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

/** The first upstream artifact whose name ends with `/<file>` or is `<file>`, newest step last wins. */
export function findArtifact(upstream: readonly UpstreamResult[], file: string): Artifact | undefined {
  let found: Artifact | undefined;
  for (const u of upstream) {
    for (const a of u.result.artifacts) if (baseName(a.name) === file) found = a;
  }
  return found;
}

/** The last lines of a command's output, for a failure summary. */
export function outputTail(r: CommandResult, lines = 8): string {
  return `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-lines).join("\n");
}

/** A failed step result with the reason. */
export function failed(summary: string, partial: Partial<StepResult> = {}): StepResult {
  return {
    status: "failed",
    summary: summary.slice(0, 4000),
    artifacts: partial.artifacts ?? [],
    metrics: partial.metrics ?? {},
    filesChanged: partial.filesChanged ?? [],
    criteria: partial.criteria ?? [],
  };
}

/** The reviewer's findings this step must address on a fix round. */
export function findingsFor(work: StepWork): Finding[] {
  return work.findings.filter((f) => f.ownerStepId === undefined || f.ownerStepId === work.stepId);
}

/** A judgement of one acceptance criterion from the evidence a specialist gathered. */
export type Judge = (criterion: string) => { met: boolean; evidence: string } | undefined;

/** Checks each of the step's acceptance criteria; a criterion no rule recognises is reported as unverified. */
export function judgeCriteria(criteria: readonly AcceptanceCriterion[], judge: Judge): StepResult["criteria"] {
  return criteria.slice(0, 20).map(({ id, text }) => {
    const j = judge(text) ?? { met: false, evidence: "not verified automatically by the offline specialist" };
    return { id, criterion: text.slice(0, 1000), met: j.met, evidence: j.evidence.slice(0, 1000) };
  });
}

/** The requirements people added in plan review, echoed so the result answers them. */
export function reviewRequests(work: StepWork): string[] {
  return work.step.requirements.filter((r) => r.startsWith("Requested in plan review:"));
}

/** Rounds for display. */
export function fmt(n: number | undefined, digits = 3): string {
  return n === undefined || !Number.isFinite(n) ? "n/a" : n.toFixed(digits);
}

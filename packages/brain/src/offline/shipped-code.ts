import type { StepWork } from "@mllead/contracts";
import type { CommandResult, StepTools } from "../types.js";
import { addressFindings } from "./fixes.js";
import { baseName, findingsFor, type OfflineContext, readJob, reviewRequests } from "./shared.js";

/** Where a specialist puts its shipped script and the script's unit tests in the workspace. */
export interface CodePaths {
  script: string;
  tests: string;
}

/** The source text of a shipped script and its tests. */
export interface CodeSources {
  script: string;
  tests: string;
}

/** Reads the shipped script and tests (named by the paths' base names) and writes them into the workspace. */
export async function writeShippedCode(tools: StepTools, ctx: OfflineContext, code: CodePaths): Promise<CodeSources> {
  const script = await readJob(ctx, baseName(code.script));
  const tests = await readJob(ctx, baseName(code.tests));
  await tools.writeFile(code.script, script);
  await tools.writeFile(code.tests, tests);
  return { script, tests };
}

/** Runs the unit tests beside the shipped script; `count` is how many ran, as unittest reported it. */
export async function runShippedTests(tools: StepTools, code: CodePaths): Promise<{ run: CommandResult; count: string }> {
  const dir = code.tests.slice(0, code.tests.lastIndexOf("/"));
  const run = await tools.run(["python3", "-m", "unittest", "discover", "-s", dir, "-p", "test_*.py"], { timeoutSec: 120 });
  return { run, count: /Ran (\d+) tests?/.exec(run.stderr)?.[1] ?? "0" };
}

/**
 * The closing lines of a summary: how each reviewer finding for this step was
 * addressed, and each plan-review request echoed with `note` on how far it was met.
 */
export function followUpLines(work: StepWork, code: CodePaths, sources: CodeSources, note: string): string[] {
  const lines: string[] = [];
  const fixes = findingsFor(work);
  if (fixes.length > 0) {
    lines.push(
      ...addressFindings(fixes, [
        { file: code.script, source: sources.script },
        { file: code.tests, source: sources.tests },
      ]),
    );
  }
  for (const r of reviewRequests(work)) lines.push(`${r} — recorded; ${note}`);
  return lines;
}

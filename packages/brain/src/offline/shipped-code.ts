import { addressFindings } from "./fixes.js";
import { baseName, findingsFor, readJob, reviewRequests } from "./shared.js";
import { type BashRun, bash, exists, readText, type Workbench, write } from "./workbench.js";

/**
 * Where a specialist's shipped script and its unit tests live in the task's
 * repository: the demo repository's layout (`jobs/<name>.py`), which the
 * service builds from the shipped scripts when no team repository is set.
 */
export interface CodePaths {
  script: string;
  tests: string;
}

/** The source text of the script and its tests as they are in the workspace after `ensureShipped`. */
export interface CodeSources {
  script: string;
  tests: string;
}

/**
 * Makes sure the script and its tests are in the workspace: a file already
 * there (the demo repository ships them) is used as it is; a missing one is
 * written from the shipped copy (a team's own repository). On a fix round,
 * a file the reviewer's findings name is rewritten from the shipped copy (the
 * reviewed template). Returns the sources as they now are.
 */
export async function ensureShipped(wb: Workbench, code: CodePaths): Promise<CodeSources> {
  const findings = findingsFor(wb.work);
  const out: Record<keyof CodePaths, string> = { script: "", tests: "" };
  for (const which of ["script", "tests"] as const) {
    const path = code[which];
    const shipped = await readJob(wb.ctx, baseName(path));
    const named = findings.some((f) => f.file !== undefined && baseName(f.file) === baseName(path));
    const present = await exists(wb, path);
    const current = present ? await readText(wb, path) : undefined;
    if (current === undefined || (named && current !== shipped)) {
      await write(wb, path, shipped);
      out[which] = shipped;
    } else {
      out[which] = current;
    }
  }
  return out;
}

/** Runs the unit tests beside the script; `count` is how many ran, as unittest reported it. */
export async function runShippedTests(wb: Workbench, code: CodePaths): Promise<{ run: BashRun; count: number }> {
  const slash = code.tests.lastIndexOf("/");
  const dir = slash === -1 ? "." : code.tests.slice(0, slash);
  const run = await bash(wb, `python3 -m unittest discover -s ${dir} -p ${baseName(code.tests)}`);
  return { run, count: Number(/Ran (\d+) tests?/.exec(run.output)?.[1] ?? 0) };
}

/**
 * The closing lines of a summary: how each reviewer finding for this step was
 * addressed, and each plan-review request the offline specialist did not carry out.
 */
export function followUpLines(wb: Workbench, code: CodePaths, sources: CodeSources): string[] {
  const lines: string[] = [];
  const fixes = findingsFor(wb.work);
  if (fixes.length > 0) {
    lines.push(
      ...addressFindings(fixes, [
        { file: code.script, source: sources.script },
        { file: code.tests, source: sources.tests },
      ]),
    );
  }
  for (const r of reviewRequests(wb.work)) {
    lines.push(`${r} — not carried out: the offline specialist only runs the shipped script; with Claude it would be.`);
  }
  return lines;
}

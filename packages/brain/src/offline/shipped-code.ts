import type { CommandResult } from "../types.js";
import { addressFindings } from "./fixes.js";
import { baseName, findingsFor, readJob, reviewRequests } from "./shared.js";
import { exists, readText, run, type Workbench, write } from "./workbench.js";

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

/**
 * Runs unittest's discovery of the tests beside the script, then prints what it counted as JSON on the last
 * line of stdout; exits 0 only when every test passed (unittest's own output stays on stderr).
 */
const RUN_TESTS = `import json, sys, unittest
program = unittest.main(module=None, argv=["unittest", "discover", "-s", sys.argv[1], "-p", sys.argv[2]], exit=False)
print(json.dumps({"ran": program.result.testsRun}))
sys.exit(0 if program.result.wasSuccessful() else 1)`;

/** How many tests ran, from the runner's closing JSON line (0 when it printed none: it crashed first). */
function testsRan(wb: Workbench, result: CommandResult): number {
  const last = result.stdout.trimEnd().split("\n").at(-1) ?? "";
  if (!last.startsWith("{")) return 0;
  try {
    const ran = (JSON.parse(last) as { ran?: unknown }).ran;
    return typeof ran === "number" ? ran : 0;
  } catch (err) {
    wb.tools.log.warn({ err }, "offline specialist: the test runner's summary line is not JSON");
    return 0;
  }
}

/** Runs the unit tests beside the script; `count` is how many ran. */
export async function runShippedTests(wb: Workbench, code: CodePaths): Promise<{ run: CommandResult; count: number }> {
  const slash = code.tests.lastIndexOf("/");
  const dir = slash === -1 ? "." : code.tests.slice(0, slash);
  const result = await run(wb, ["python3", "-c", RUN_TESTS, dir, baseName(code.tests)]);
  return { run: result, count: testsRan(wb, result) };
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

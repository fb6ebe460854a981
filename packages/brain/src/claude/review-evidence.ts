import type { StepWork } from "@mllead/contracts";
import { z } from "zod";
import { reviewFiles } from "../offline/review-checks.js";
import { changedPython } from "../review-scope.js";
import type { StepTools } from "../types.js";

/** Characters of one analyser's output handed to the reviewer. */
const MAX_ANALYSER_CHARS = 6000;
/** Files one analyser run is given at most. */
const MAX_FILES = 200;
/** Seconds an analyser may run. */
const ANALYSER_TIMEOUT_SEC = 120;

/** `ruff check --output-format json`: the fields the evidence shows. */
const RuffOutput = z.array(
  z.object({
    code: z.string().nullable().optional(),
    message: z.string(),
    filename: z.string(),
    location: z.object({ row: z.number() }).nullable().optional(),
  }),
);

/** What the reviewer is handed besides the diff: the static checks and whatever analysers the sandbox has. */
interface ReviewEvidence {
  /** Markdown lines for the reviewer's prompt. */
  lines: string[];
  /** The analysers that ran, e.g. `["pyflakes"]` (empty when none is installed). */
  analysers: string[];
}

function relative(root: string, file: string): string {
  return file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file;
}

function bounded(text: string): string {
  const t = text.trim();
  return t.length > MAX_ANALYSER_CHARS ? `${t.slice(0, MAX_ANALYSER_CHARS)}\n… [cut]` : t;
}

/** pyflakes on the files, when the sandbox's python has it (`python3 -I`: the workspace cannot stand in for it). */
async function pyflakes(tools: StepTools, files: string[]): Promise<string[] | undefined> {
  const probe = await tools.run(["python3", "-I", "-c", "import pyflakes"], { timeoutSec: 30 });
  if (probe.exitCode !== 0) return undefined;
  const run = await tools.run(["python3", "-I", "-m", "pyflakes", ...files], { timeoutSec: ANALYSER_TIMEOUT_SEC });
  if (run.timedOut) return ["pyflakes did not finish in time."];
  const out = bounded(`${run.stdout}\n${run.stderr}`);
  return out ? ["```", out, "```"] : ["No problems reported."];
}

/** `ruff check` on the files, when the sandbox has ruff; its JSON read into one line per problem. */
async function ruff(tools: StepTools, files: string[]): Promise<string[] | undefined> {
  const probe = await tools.run(["ruff", "--version"], { timeoutSec: 30 });
  if (probe.exitCode !== 0) return undefined;
  const run = await tools.run(["ruff", "check", "--output-format", "json", "--no-cache", "--exit-zero", ...files], {
    timeoutSec: ANALYSER_TIMEOUT_SEC,
  });
  if (run.timedOut) return ["ruff did not finish in time."];
  let json: unknown;
  try {
    json = JSON.parse(run.stdout);
  } catch (err) {
    tools.log.warn({ err, stderr: run.stderr.slice(0, 500) }, "review: ruff's output is not JSON; handing it over as text");
    return ["```", bounded(`${run.stdout}\n${run.stderr}`), "```"];
  }
  const parsed = RuffOutput.safeParse(json);
  if (!parsed.success) return ["```", bounded(run.stdout), "```"];
  if (parsed.data.length === 0) return ["No problems reported."];
  const lines = parsed.data.map(
    (p) => `- ${relative(tools.root, p.filename)}${p.location ? `:${p.location.row}` : ""} ${p.code ?? ""} ${p.message}`,
  );
  return [bounded(lines.join("\n"))];
}

/**
 * The evidence the Claude reviewer weighs beside the diff: the built-in pattern checks over the changed Python
 * files (regular expressions: they can be wrong, and never decide), and real analysers run in the sandbox where
 * its environment has them (pyflakes, ruff), or a line saying none is available. Nothing here is a verdict.
 */
export async function reviewEvidence(work: StepWork, tools: StepTools): Promise<ReviewEvidence> {
  const scope = await changedPython(work, tools);
  const files = scope.files.map((f) => f.file).slice(0, MAX_FILES);
  const lines = [
    "## Evidence from automated checks (yours to weigh; it does not decide)",
    `Changed Python files: ${files.length ? files.join(", ") : "none"} (from ${scope.source}).`,
  ];
  if (scope.unreadable.length) lines.push(`Could not be read: ${scope.unreadable.join(", ")}.`);
  const patterns = reviewFiles(scope.files).findings;
  lines.push(
    "### Pattern checks (regular expressions over the source: a lead to verify, often wrong on real code)",
    ...(patterns.length
      ? patterns.map(
          (f) =>
            `- [${f.severity}/${f.category}] ${f.file ?? ""}${f.line ? `:${f.line}` : ""} ${f.message}${f.ownerStepId ? ` (step ${f.ownerStepId})` : ""}`,
        )
      : ["- nothing flagged"]),
  );
  const analysers: string[] = [];
  if (files.length > 0) {
    for (const [name, run] of [
      ["pyflakes", pyflakes],
      ["ruff", ruff],
    ] as const) {
      const out = await run(tools, files);
      if (!out) continue;
      analysers.push(name);
      lines.push(`### ${name}`, ...out);
    }
    if (analysers.length === 0) {
      lines.push(
        "### Analysers",
        "No static analyser (pyflakes, ruff) is installed in the sandbox's Python environment; the pattern checks above are all there is. Run the code and its tests with Bash to check it yourself.",
      );
    }
  }
  return { lines, analysers };
}

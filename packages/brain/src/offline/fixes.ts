import type { Finding, ReviewCategory } from "@mllead/contracts";
import { reviewPython } from "./review-checks.js";
import { baseName } from "./shared.js";

const HOW: Record<ReviewCategory, string> = {
  data_leakage: "the split now happens before every fitted transform and statistics are fitted on the train split only",
  reproducibility: "every random generator is seeded from --seed (default 42)",
  numerical_stability: "the loss is computed from logits with logaddexp and the sigmoid is split by sign",
  memory: "data is loaded once before any loop and training uses mini-batches",
  type_hints: "every function signature is annotated",
  documentation: "the module and its public functions have docstrings",
  tests: "unit tests ship beside the script and run in this step",
  other: "the script was rewritten from the reviewed template",
};

/**
 * Says how each reviewer finding was addressed, checked by re-running the
 * reviewer's static checks on the rewritten files: resolved only if that check is now clean.
 */
export function addressFindings(findings: readonly Finding[], files: readonly { file: string; source: string }[]): string[] {
  return findings.map((f) => {
    const target = f.file ? files.find((x) => baseName(x.file) === baseName(f.file ?? "")) : undefined;
    const where = f.file ? `${f.file}${f.line ? `:${f.line}` : ""}` : "the step's code";
    const label = `${f.severity} ${f.category} finding on ${where}`;
    if (f.category === "tests") {
      const tests = files.filter((x) => /(^|\/)test_[^/]*\.py$/.test(x.file));
      return tests.length > 0
        ? `Addressed ${label}: ${HOW.tests} (${tests.map((t) => t.file).join(", ")}).`
        : `Still open: ${label} — no test file is part of this step.`;
    }
    const checked = target ? [target] : files;
    const remaining = checked.flatMap((x) => reviewPython(x.file, x.source)).filter((r) => r.category === f.category);
    return remaining.length === 0
      ? `Addressed ${label}: ${HOW[f.category]}; the reviewer's ${f.category} check is now clean.`
      : `Still open: ${label} — ${remaining[0]?.message ?? "the check still fails"}`;
  });
}

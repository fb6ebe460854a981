import { type Finding, REVIEW_PITFALLS, type ReviewCheck, type Verdict } from "@mllead/contracts";
import { enclosing, type Header, headers, params, type SourceLine, sourceLines } from "./python-source.js";

/** A Python file under review and the step that owns it. */
export interface ReviewedFile {
  file: string;
  source: string;
  ownerStepId?: string;
}

type Draft = Omit<Finding, "file" | "ownerStepId">;

const FIT =
  /\.fit_transform\(|\.fit\(|\.(mean|std|min|max|var)\(\s*axis\s*=\s*0|np\.nan(median|mean|std)\([^)]*(axis\s*=\s*0|\[\s*:\s*,)/;
const SPLIT = /train_test_split|\bsplit\(|permutation\(|\[\s*["']train["']\s*\]|\bx_train\b|\bX_train\b|train\.csv|\bn_train\b/;
const LEGACY_RANDOM = /\bnp\.random\.(rand|randn|randint|choice|shuffle|permutation|normal|uniform|random|binomial|poisson)\(/;
const PY_RANDOM = /(?<![.\w])random\.(random|randint|choice|shuffle|sample|uniform|gauss)\(/;
const TORCH_RANDOM = /\btorch\.(rand|randn|randint|randperm)\(|shuffle\s*=\s*True/;
const LOAD = /np\.loadtxt\(|np\.genfromtxt\(|np\.load\(|pd\.read_\w+\(|read_csv\(|json\.load\(|\.read_text\(|pickle\.load\(/;
const GROW = /np\.(concatenate|vstack|hstack|append)\(/;

function firstLine(lines: readonly SourceLine[], re: RegExp): SourceLine | undefined {
  return lines.find((l) => l.isCode && re.test(l.code));
}

function reproducibility(lines: readonly SourceLine[]): Draft[] {
  const code = lines
    .filter((l) => l.isCode)
    .map((l) => l.code)
    .join("\n");
  const out: Draft[] = [];
  for (const l of lines) {
    if (l.isCode && /default_rng\(\s*\)/.test(l.code)) {
      out.push({
        severity: "major",
        category: "reproducibility",
        line: l.no,
        message: "default_rng() is created without a seed; pass a fixed seed so runs repeat.",
      });
    }
  }
  const checks: [RegExp, RegExp, string][] = [
    [LEGACY_RANDOM, /np\.random\.seed\(\s*[^)\s]/, "numpy's global random functions are used without np.random.seed(...)"],
    [PY_RANDOM, /(?<![.\w])random\.seed\(\s*[^)\s]/, "Python's random module is used without random.seed(...)"],
    [TORCH_RANDOM, /torch\.manual_seed\(\s*[^)\s]/, "torch randomness is used without torch.manual_seed(...)"],
  ];
  for (const [use, seed, message] of checks) {
    const at = firstLine(lines, use);
    if (at && !seed.test(code)) {
      out.push({
        severity: "major",
        category: "reproducibility",
        line: at.no,
        message: `${message}; results cannot be reproduced.`,
      });
    }
  }
  return out;
}

function leakage(lines: readonly SourceLine[]): Draft[] {
  const split = firstLine(lines, SPLIT);
  const out: Draft[] = [];
  for (const l of lines) {
    // Augmented assignments are parameter updates (e.g. a gradient's batch mean), not statistics of the data.
    if (!l.isCode || !FIT.test(l.code) || /train/i.test(l.code) || /[-+*/]=/.test(l.code)) continue;
    if (!split || l.no < split.no) {
      out.push({
        severity: "blocker",
        category: "data_leakage",
        line: l.no,
        message: `A fitted transform or statistic is computed on data that has not been split yet (${l.code.trim().slice(0, 120)}); split train/val/test first and fit on train only.`,
      });
    } else {
      out.push({
        severity: "major",
        category: "data_leakage",
        line: l.no,
        message: `A fitted statistic is computed on data not restricted to the train split (${l.code.trim().slice(0, 120)}).`,
      });
    }
  }
  return out;
}

function stability(lines: readonly SourceLine[]): Draft[] {
  const out: Draft[] = [];
  const all = lines
    .filter((l) => l.isCode)
    .map((l) => l.code)
    .join("\n");
  for (const l of lines) {
    if (!l.isCode) continue;
    if (/(?:np|math)\.log\(/.test(l.code) && !/clip|eps|1e-|maximum\(/.test(l.code)) {
      out.push({
        severity: "major",
        category: "numerical_stability",
        line: l.no,
        message: "log() of a value that can be 0 gives -inf; clip it or compute the loss from logits (logaddexp).",
      });
    }
    if (/1(\.0)?\s*\/\s*\(\s*1(\.0)?\s*\+\s*(np\.|math\.)?exp\(\s*-/.test(l.code) && !/clip|\[/.test(l.code)) {
      out.push({
        severity: "major",
        category: "numerical_stability",
        line: l.no,
        message: "1/(1+exp(-z)) overflows for large negative z; use a stable sigmoid (split by sign or clip z).",
      });
    }
  }
  const divStd = firstLine(lines, /\/\s*\(?\s*[\w.]*std\b/);
  if (divStd && !/std\s*==\s*0|std\s*<=?\s*0|\+\s*(eps|1e-)|maximum\(/.test(all)) {
    out.push({
      severity: "minor",
      category: "numerical_stability",
      line: divStd.no,
      message: "Division by a standard deviation that can be 0 (a constant column); guard it.",
    });
  }
  return out;
}

function memory(lines: readonly SourceLine[]): Draft[] {
  const out: Draft[] = [];
  const loops: { indent: number; header: string }[] = [];
  for (const l of lines) {
    if (!l.isCode) continue;
    while (loops.length > 0 && l.indent <= (loops.at(-1)?.indent ?? 0)) loops.pop();
    if (loops.length > 0 && LOAD.test(l.code)) {
      const hot = loops.length > 1 || loops.some((x) => /epoch|batch|step|iter/.test(x.header));
      out.push({
        severity: hot ? "major" : "minor",
        category: "memory",
        line: l.no,
        message: hot
          ? "Data is loaded inside the training loop; load it once before the loop."
          : "Data is loaded inside a loop; make sure each input is loaded only once.",
      });
    } else if (loops.length > 0 && GROW.test(l.code)) {
      out.push({
        severity: "minor",
        category: "memory",
        line: l.no,
        message: "An array grows inside a loop (quadratic copying); collect parts in a list and join once.",
      });
    }
    if (/^\s*(for|while)\b.*:\s*$/.test(l.code)) loops.push({ indent: l.indent, header: l.code });
  }
  return out;
}

function isPublicApi(all: readonly Header[], h: Header): boolean {
  // Test functions are documented by their names.
  if (h.name.startsWith("_") || h.name.startsWith("test_")) return false;
  const parent = enclosing(all, h);
  return parent === undefined || parent.kind === "class";
}

function hintsAndDocs(lines: readonly SourceLine[]): Draft[] {
  const out: Draft[] = [];
  const all = headers(lines);
  const unannotated: Header[] = [];
  const undocumented: Header[] = [];
  for (const h of all) {
    if (h.kind === "def") {
      const missing = params(h.text).filter((p) => {
        const name = p.replace(/^\*+/, "").split(/[:=]/)[0]?.trim() ?? "";
        return !["self", "cls", "", "/"].includes(name) && p !== "*" && !p.includes(":");
      });
      if (missing.length > 0 || !/\)\s*->/.test(h.text)) unannotated.push(h);
    }
    if (isPublicApi(all, h)) {
      const next = lines.slice(h.endIndex + 1).find((l) => l.isCode || l.opensString);
      if (!next?.opensString) undocumented.push(h);
    }
  }
  const names = (hs: Header[]) =>
    hs
      .slice(0, 6)
      .map((h) => `${h.name}()`)
      .join(", ") + (hs.length > 6 ? ", …" : "");
  if (unannotated[0]) {
    out.push({
      severity: "minor",
      category: "type_hints",
      line: unannotated[0].no,
      message: `Missing type hints on ${names(unannotated)}.`,
    });
  }
  const first = lines.find((l) => (l.isCode && !/^\s*from __future__/.test(l.code)) || l.opensString);
  if (!first?.opensString) {
    out.push({
      severity: "minor",
      category: "documentation",
      line: 1,
      message: "The module has no docstring saying what it does and how to run it.",
    });
  }
  if (undocumented[0]) {
    out.push({
      severity: "minor",
      category: "documentation",
      line: undocumented[0].no,
      message: `No docstring on ${names(undocumented)}.`,
    });
  }
  return out;
}

/** Whether a file is a test file (by name or by containing test functions). */
function isTestFile(file: string, source: string): boolean {
  return /(^|\/)test_[^/]*\.py$|_test\.py$/.test(file) || /^\s*def test_\w+\(/m.test(source);
}

/** Static checks of one Python file for the seed's ML pitfalls (not the test-coverage check, which spans files). */
export function reviewPython(file: string, source: string, ownerStepId?: string): Finding[] {
  const lines = sourceLines(source);
  const drafts = [...leakage(lines), ...reproducibility(lines), ...stability(lines), ...memory(lines), ...hintsAndDocs(lines)];
  return drafts.map((d) => ({ ...d, file, ...(ownerStepId !== undefined ? { ownerStepId } : {}) }));
}

function testCoverage(files: readonly ReviewedFile[]): Finding[] {
  const code = files.filter((f) => !isTestFile(f.file, f.source));
  const tests = files.filter((f) => isTestFile(f.file, f.source));
  if (code.length === 0) return [];
  // No tests anywhere in the change is major; a step whose code has none while others do is minor.
  // One finding per owning step, naming its first file, so a fix round goes back to that step.
  const severity = tests.length === 0 ? "major" : "minor";
  const out: Finding[] = [];
  const owners = [...new Set(code.map((f) => f.ownerStepId))];
  for (const owner of owners) {
    if (tests.some((t) => t.ownerStepId === owner)) continue;
    const mine = code.filter((f) => f.ownerStepId === owner);
    out.push({
      severity,
      category: "tests",
      file: mine[0]?.file ?? "",
      message:
        tests.length === 0
          ? `No tests accompany the changed code (${mine.map((f) => f.file).join(", ")}).`
          : `No tests accompany ${mine.map((f) => f.file).join(", ")}.`,
      ...(owner !== undefined ? { ownerStepId: owner } : {}),
    });
  }
  return out;
}

const SEVERITY_ORDER = { blocker: 0, major: 1, minor: 2, nit: 3 } as const;

/** Reviews a set of files and returns the structured verdict: approve unless a blocker or major finding exists. */
export function reviewFiles(files: readonly ReviewedFile[]): Verdict {
  const findings = [...files.flatMap((f) => reviewPython(f.file, f.source, f.ownerStepId)), ...testCoverage(files)].sort(
    (a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity],
  );
  const blocking = findings.filter((f) => f.severity === "blocker" || f.severity === "major");
  const checks = REVIEW_PITFALLS.map((pitfall) => {
    const mine = findings.filter((f) => f.category === pitfall);
    const evidence =
      files.length === 0
        ? "No changed Python files to check."
        : mine.length === 0
          ? `No problems found in ${files.length} file(s).`
          : mine.map((f) => `${f.severity}: ${f.file ?? "scope"}${f.line ? `:${f.line}` : ""}`).join("; ");
    const status = files.length === 0 ? "n/a" : mine.length === 0 ? "pass" : "fail";
    return { pitfall, status, evidence: evidence.slice(0, 500) } satisfies ReviewCheck;
  });
  const count = (s: Finding["severity"]) => findings.filter((f) => f.severity === s).length;
  const tally = `${count("blocker")} blocker, ${count("major")} major, ${count("minor")} minor`;
  const summary =
    files.length === 0
      ? "Nothing to review: no code files were changed."
      : blocking.length > 0
        ? `Changes requested (${tally}): ${blocking
            .slice(0, 3)
            .map((f) => `${f.category} in ${f.file ?? "the changes"}`)
            .join("; ")}.`
        : `Approved: ${files.length} file(s) reviewed, no blocker or major findings (${tally}).`;
  return {
    decision: blocking.length > 0 ? "request_changes" : "approve",
    summary: summary.slice(0, 2000),
    findings: findings.slice(0, 50).map((f) => ({ ...f, message: f.message.slice(0, 2000) })),
    checks,
  };
}

import type { Verdict } from "@mllead/contracts";

/**
 * Claude's verdict with the static checks beside it: the checks' results are the
 * verdict's checks, their blocker findings join Claude's, and a blocker from
 * either side means "request changes".
 */
export function mergeVerdicts(claude: Verdict, automated: Verdict | undefined): Verdict {
  if (!automated) return claude;
  const blockers = automated.findings.filter(
    (f) => f.severity === "blocker" && !claude.findings.some((c) => c.file === f.file && c.category === f.category),
  );
  const findings = [...claude.findings, ...blockers].slice(0, 50);
  const decision = findings.some((f) => f.severity === "blocker") ? "request_changes" : claude.decision;
  return { ...claude, decision, findings, checks: automated.checks.length ? automated.checks : claude.checks };
}

import type { UpstreamResult } from "@mllead/contracts";
import type { SummaryRequest } from "../types.js";
import { NOT_COMMITTED_PREFIX } from "./demo-data.js";
import { fmt } from "./shared.js";

const MAX_SUMMARY = 3500;

function firstSentence(text: string): string {
  const line = text.split("\n")[0] ?? "";
  const cut = line.search(/(?<=[.!?])\s/);
  return (cut > 0 ? line.slice(0, cut) : line).slice(0, 300);
}

function metricsLine(results: readonly UpstreamResult[]): string | undefined {
  const train = results.find((r) => r.role === "ml-engineer" && r.result.metrics.val_auc !== undefined);
  if (train) {
    const m = train.result.metrics;
    const lift = (m.val_auc ?? 0) - (m.baseline_auc ?? 0.5);
    return `val AUC ${fmt(m.val_auc)} vs majority-class baseline ${fmt(m.baseline_auc ?? 0.5)} (lift ${lift >= 0 ? "+" : ""}${fmt(lift)}); val accuracy ${fmt(m.val_accuracy)} vs ${fmt(m.baseline_accuracy)}; test AUC ${fmt(m.test_auc)}.`;
  }
  const data = results.find((r) => r.role === "data-engineer" && r.result.metrics.rows !== undefined);
  if (data) return `${data.result.metrics.rows} rows validated, positive rate ${fmt(data.result.metrics.positive_rate)}.`;
  return undefined;
}

/** The closing message for the thread: what was done, key metrics vs baseline, the verdict, artifacts, next steps. */
export function offlineSummary(req: SummaryRequest): string {
  const done = req.results.filter((r) => r.role !== "code-reviewer");
  const lines: string[] = [
    "*Summary* (produced offline by the deterministic brain, no LLM)",
    "",
    "_The offline brain ran the shipped demo pipeline on a deterministic synthetic table, not on your data: the numbers below describe that table only._",
    "",
    "*What was done*",
  ];
  for (const r of done) {
    lines.push(
      `• ${r.role} — ${r.title}: ${r.result.status === "succeeded" ? "" : "FAILED — "}${firstSentence(r.result.summary)}`,
    );
  }
  const metrics = metricsLine(req.results);
  if (metrics) lines.push("", `*Key metrics* (synthetic demo data, not your data): ${metrics}`);
  const uncommitted = req.results.flatMap((r) => r.result.warnings ?? []).find((w) => w.startsWith(NOT_COMMITTED_PREFIX));
  if (uncommitted) lines.push("", `*Repository*: ${uncommitted}`);
  const verdict = req.verdict ?? req.results.find((r) => r.result.verdict)?.result.verdict;
  if (verdict) {
    const minors = verdict.findings.filter((f) => f.severity === "minor" || f.severity === "nit").length;
    lines.push(
      "",
      `*Review*: ${verdict.decision === "approve" ? "approved" : "changes requested"} — ${verdict.summary}${minors > 0 ? ` (${minors} minor note(s) to consider)` : ""}`,
    );
  } else {
    lines.push("", "*Review*: no verdict was recorded.");
  }
  const artifacts = req.results.flatMap((r) => r.result.artifacts.map((a) => a.name));
  const key = artifacts.filter((a) => /report\.md|loss\.png|metrics\.json|validation_report\.md|model\.npz|verdict\.md/.test(a));
  if (artifacts.length > 0)
    lines.push(
      "",
      `*Artifacts* (${artifacts.length}): ${[...new Set(key.length > 0 ? key : artifacts)].slice(0, 10).join(", ")}`,
    );
  const next: string[] = [];
  const hasModel = req.results.some((r) => r.role === "ml-engineer");
  if (hasModel)
    next.push(
      "run the pipeline on your real table (with Claude: set ANTHROPIC_API_KEY)",
      "try an Optuna sweep if the lift justifies it",
    );
  else next.push("train a first model on the validated splits");
  if (verdict && verdict.decision !== "approve") next.unshift("fix the reviewer's blocking findings");
  if (/previous|production|regress/i.test(req.text) && hasModel)
    next.push("compare against the previous model's metrics once they are available");
  lines.push("", `*Next steps*: ${next.join("; ")}.`);
  const out = lines.join("\n");
  return out.length > MAX_SUMMARY ? `${out.slice(0, MAX_SUMMARY - 1)}…` : out;
}

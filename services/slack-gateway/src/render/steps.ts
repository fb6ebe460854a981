import type { BrainKind, CriterionResult, EventOf, Finding, Metrics, Usage, Verdict } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import type { ArtifactLinker } from "../artifact-links.js";
import type { OutgoingMessage } from "../slack-api.js";
import { esc, fallback, fitBlocks, section, truncate, withBrain } from "./blocks.js";
import { usageCost } from "./cost.js";
import { artifactsLine } from "./files.js";

const SEVERITIES: Finding["severity"][] = ["blocker", "major", "minor", "nit"];
const SEVERITY_EMOJI: Record<Finding["severity"], string> = {
  blocker: ":red_circle:",
  major: ":large_orange_circle:",
  minor: ":large_yellow_circle:",
  nit: ":large_blue_circle:",
};

const CHECK_EMOJI: Record<Verdict["checks"][number]["status"], string> = {
  pass: ":white_check_mark:",
  fail: ":x:",
  "n/a": ":heavy_minus_sign:",
};

/** `acc 0.912 · loss 0.31`, at most `max` entries. */
export function formatMetrics(metrics: Metrics, max = 10): string {
  return Object.entries(metrics)
    .slice(0, max)
    .map(([k, v]) => `\`${esc(k)}\` ${Number.isInteger(v) ? v : Number(v.toPrecision(4))}`)
    .join(" · ");
}

/**
 * A step began (or began again after a fix or retry), on which branch, and a warning when its sandbox is weaker.
 * A fix round says so, with how many of the review's findings it addresses: "attempt 2" alone reads like a retry.
 */
export function renderStepStarted(e: EventOf<"step.started">, brain: BrainKind | undefined): OutgoingMessage {
  const retry = e.attempt > 1 ? ` (attempt ${e.attempt})` : "";
  const where = e.branch ? ` on \`${esc(e.branch)}\`` : "";
  const n = e.fixing ? `${e.fixing} finding${e.fixing === 1 ? "" : "s"}` : "";
  // The re-review gets the same findings, to check each against the fix.
  const fix = !e.fixing
    ? ""
    : e.role === "code-reviewer"
      ? `Re-review after the fix round: checks the ${n}. `
      : `Fix round: ${n} from the code review to address. `;
  const blocks: types.KnownBlock[] = [
    section(`${fix ? ":wrench:" : ":arrow_forward:"} ${fix}\`${e.role}\` started *${esc(e.title)}*${retry}${where}`),
  ];
  if (e.warning) blocks.push(section(`:warning: ${esc(e.warning)}`));
  return { text: fallback(`${fix}${e.role} started ${e.title}${retry}`), blocks: withBrain(blocks, brain) };
}

/** Each acceptance criterion ✓ or ✗ with its evidence. */
export function criteriaLines(criteria: readonly CriterionResult[]): string {
  return `*Acceptance criteria:*\n${criteria
    .map(
      (c) =>
        `${c.met ? ":white_check_mark:" : ":x:"} \`${esc(c.id)}\` ${esc(truncate(c.criterion, 300))}${c.evidence ? ` — _${esc(truncate(c.evidence, 200))}_` : ""}`,
    )
    .join("\n")}`;
}

/** A step failed, with its error quoted and, when criteria were unmet, every criterion's answer. */
export function renderStepFailed(e: EventOf<"step.failed">, brain: BrainKind | undefined): OutgoingMessage {
  const text = `:x: *${esc(e.title)}* failed (\`${e.role}\`, attempt ${e.attempt})\n> ${esc(truncate(e.error, 1500)).replace(/\n/g, "\n> ")}`;
  const blocks: types.KnownBlock[] = [section(text)];
  if (e.criteria?.length) blocks.push(section(criteriaLines(e.criteria)));
  return { text: fallback(`${e.title} failed: ${e.error}`), blocks: fitBlocks(withBrain(blocks, brain)) };
}

function verdictBlocks(v: Verdict): types.KnownBlock[] {
  const approved = v.decision === "approve";
  const blocks: types.KnownBlock[] = [
    section(
      `${approved ? ":white_check_mark:" : ":warning:"} *Code review: ${approved ? "approved" : "changes requested"}*\n${esc(v.summary)}`,
    ),
  ];
  for (const sev of SEVERITIES) {
    const found = v.findings.filter((f) => f.severity === sev);
    if (found.length === 0) continue;
    const lines = found.map((f) => {
      const where = f.file ? `\`${esc(f.file)}${f.line ? `:${f.line}` : ""}\` ` : "";
      return `• ${where}${esc(f.message)} _(${f.category.replace(/_/g, " ")})_`;
    });
    blocks.push(
      section(`${SEVERITY_EMOJI[sev]} *${sev[0]?.toUpperCase()}${sev.slice(1)} (${found.length})*\n${lines.join("\n")}`),
    );
  }
  if (v.findings.length === 0) blocks.push(section("*Findings:* none."));
  if (v.checks.length) {
    const checks = v.checks.map(
      (c) => `${CHECK_EMOJI[c.status]} ${c.pitfall.replace(/_/g, " ")} (${c.status}) — ${esc(truncate(c.evidence, 200))}`,
    );
    blocks.push(section(`*Checks, one per ML pitfall*\n${checks.join("\n")}`));
  }
  return blocks;
}

/** A finished step: summary, key metrics, acceptance criteria; the code reviewer's step shows its verdict. */
export function renderStepCompleted(
  e: EventOf<"step.completed">,
  brain: BrainKind | undefined,
  links?: ArtifactLinker | null,
): OutgoingMessage {
  const r = e.result;
  const ok = r.status === "succeeded";
  const lines = [
    `${ok ? ":white_check_mark:" : ":x:"} *${esc(e.title)}* ${ok ? "done" : "did not succeed"} (\`${e.role}\`)`,
    esc(r.summary),
  ];
  const blocks: types.KnownBlock[] = [section(lines.join("\n"))];
  const details: string[] = [];
  if (Object.keys(r.metrics).length) details.push(`*Metrics:* ${formatMetrics(r.metrics)}`);
  if (r.criteria.length) details.push(criteriaLines(r.criteria));
  if (r.filesChanged.length) {
    const more = r.filesChanged.length > 10 ? ` and ${r.filesChanged.length - 10} more` : "";
    details.push(
      `*Files changed:* ${r.filesChanged
        .slice(0, 10)
        .map((f) => `\`${esc(f)}\``)
        .join(", ")}${more}`,
    );
  }
  if (r.artifacts.length) details.push(artifactsLine(r.artifacts, links));
  if (r.git?.commits.length) {
    details.push(
      `*Committed on* \`${esc(r.git.branch)}\`: ${r.git.commits.map((c) => `\`${c.sha.slice(0, 10)}\` ${esc(truncate(c.message, 80))}`).join(", ")}`,
    );
  }
  if (r.git?.pushed) details.push(`*Pushed* \`${esc(r.git.pushed.ref)}\` to ${esc(r.git.pushed.remote)}`);
  if (r.usage) details.push(`*Claude:* ${usageLine(r.usage)}`);
  for (const w of r.warnings ?? []) details.push(`:warning: ${esc(w)}`);
  if (details.length) blocks.push(section(details.join("\n")));
  if (r.verdict) blocks.push(...verdictBlocks(r.verdict));
  const verdict = r.verdict ? ` — review ${r.verdict.decision === "approve" ? "approved" : "requested changes"}` : "";
  return {
    text: fallback(`${e.title} ${ok ? "done" : "did not succeed"}${verdict}: ${r.summary}`),
    blocks: fitBlocks(withBrain(blocks, brain)),
  };
}

/** `12 requests · 30 tool calls · 41,200 in / 6,100 out · cache 120,000 read / 9,000 written`. */
export function usageLine(u: Usage): string {
  const n = (x: number) => x.toLocaleString("en-US");
  return `${n(u.requests)} requests · ${n(u.toolCalls)} tool calls · ${n(u.inputTokens)} in / ${n(u.outputTokens)} out tokens · cache ${n(u.cacheReadTokens)} read / ${n(u.cacheWriteTokens)} written${usageCost(u)}`;
}

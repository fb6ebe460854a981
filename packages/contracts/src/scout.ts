import { z } from "zod";
import { Id, Version } from "./common.js";

/**
 * The scout: before planning, the tech lead asks a specialist-agent (`mllead.q.scout`, request/reply) what
 * the team's repository holds — read only, from the commit a new task would start from — so the plan is
 * written against the real tree, docs, data, packages and GPUs instead of an invented "Context".
 */

/** How much of the planner's prompt the scout's report may take, in tokens (estimated as characters / 4). */
export const SCOUT_TOKEN_BUDGET = 8000;
/** Characters per token in the estimate (English text and code average about four). */
export const SCOUT_CHARS_PER_TOKEN = 4;

/** `mllead.q.scout`: the tech lead asks for the repository's context before planning `taskId`. */
export const ScoutQuery = z.object({
  v: Version,
  taskId: Id,
  /** Estimated tokens the rendered report may take (default SCOUT_TOKEN_BUDGET). */
  budgetTokens: z.number().int().min(500).max(50_000).default(SCOUT_TOKEN_BUDGET),
});
export type ScoutQuery = z.infer<typeof ScoutQuery>;

const Path = z.string().min(1).max(500);
const Line = z.string().max(1000);

/** One line of the tree: a file with its size, or a folder summarised (files below it and their total size). */
export const ScoutTreeEntry = z.object({
  path: Path,
  kind: z.enum(["file", "dir"]),
  bytes: z.number().int().nonnegative(),
  /** For a folder shown without its contents (past the depth or entry limit): the files below it. */
  files: z.number().int().nonnegative().optional(),
});
export type ScoutTreeEntry = z.infer<typeof ScoutTreeEntry>;

/** A file of a data folder: its size, and for a text table (.csv, .tsv) its first lines. */
export const ScoutDataFile = z.object({
  path: Path,
  bytes: z.number().int().nonnegative(),
  head: z.array(Line).max(10).optional(),
});
export type ScoutDataFile = z.infer<typeof ScoutDataFile>;

/** What the scout found; every list is bounded and the whole renders within the asked budget. */
export const ScoutReport = z.object({
  /** The repository as people name it, the ref tasks start from and the commit it resolved to. */
  repo: z.object({ label: z.string().max(500), ref: z.string().max(200), commit: z.string().max(64) }),
  tree: z.object({
    entries: z.array(ScoutTreeEntry).max(400),
    /** Files in the commit (tool folders such as node_modules and .venv left out). */
    totalFiles: z.number().int().nonnegative(),
    truncated: z.boolean(),
  }),
  /** README, CLAUDE.md, AGENTS.md: the head of each. */
  docs: z.array(z.object({ path: Path, head: z.string().max(20_000), truncated: z.boolean() })).max(6),
  /** The most recent commits, newest first. */
  commits: z.array(z.object({ sha: z.string().max(64), date: z.string().max(40), subject: z.string().max(300) })).max(20),
  dataDirs: z
    .array(z.object({ path: Path, files: z.array(ScoutDataFile).max(200), truncated: z.boolean(), missing: z.boolean() }))
    .max(10),
  /** The Python environment sandboxed commands use: MLLEAD_PYTHON_ENV, else the system's. ML packages only. */
  python: z.object({
    env: z.string().max(500).optional(),
    interpreter: z.string().max(500).optional(),
    packages: z.array(z.object({ name: z.string().max(100), version: z.string().max(100) })).max(80),
  }),
  /** The GPU runners beating now. */
  runners: z
    .array(
      z.object({
        host: z.string().max(200),
        cpuSlots: z.number().int().nonnegative(),
        gpus: z.array(z.object({ name: z.string().max(200), memoryMiB: z.number().nullable() })).max(64),
      }),
    )
    .max(50),
  /** What the scout could not read or left out, for people and the planner. */
  notes: z.array(z.string().max(500)).max(20),
});
export type ScoutReport = z.infer<typeof ScoutReport>;

export const ScoutReply = z.union([
  z.object({ v: Version, ok: z.literal(true), report: ScoutReport }),
  z.object({ v: Version, ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type ScoutReply = z.infer<typeof ScoutReply>;

/** `12.3 KB` */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

function treeLines(r: ScoutReport): string[] {
  const lines = r.tree.entries.map((e) =>
    e.kind === "dir" ? `${e.path}/ (${e.files ?? 0} files, ${formatBytes(e.bytes)})` : `${e.path} (${formatBytes(e.bytes)})`,
  );
  if (r.tree.truncated) lines.push(`… (${r.tree.totalFiles} files in all; the rest left out)`);
  return lines;
}

/**
 * The report as the planner reads it (markdown). Its length over SCOUT_CHARS_PER_TOKEN is the estimate the
 * scout keeps within the budget, so the scout and the planner measure the same text.
 */
export function renderScoutReport(r: ScoutReport): string {
  const out: string[] = [
    `Repository: ${r.repo.label} at ${r.repo.ref} (commit ${r.repo.commit.slice(0, 12)})`,
    "",
    `### Files (${r.tree.totalFiles} in the commit; sizes in bytes)`,
    ...treeLines(r),
  ];
  for (const d of r.docs) {
    out.push("", `### ${d.path}${d.truncated ? " (head)" : ""}`, d.head);
  }
  if (r.commits.length) {
    out.push("", "### Recent commits", ...r.commits.map((c) => `- ${c.sha.slice(0, 10)} ${c.date} ${c.subject}`));
  }
  out.push("", "### Data folders (read-only to the specialists)");
  if (r.dataDirs.length === 0) out.push("(none configured)");
  for (const d of r.dataDirs) {
    if (d.missing) {
      out.push(`- ${d.path}: missing or unreadable`);
      continue;
    }
    out.push(`- ${d.path}: ${d.files.length}${d.truncated ? "+" : ""} files`);
    for (const f of d.files) {
      out.push(`  - ${f.path} (${formatBytes(f.bytes)})`);
      for (const h of f.head ?? []) out.push(`    | ${h}`);
    }
  }
  const py = r.python;
  out.push(
    "",
    `### Python environment: ${py.env ?? "the system python"}${py.interpreter ? ` — ${py.interpreter}` : ""}`,
    py.packages.length ? py.packages.map((p) => `${p.name} ${p.version}`).join(", ") : "(no ML packages found)",
    "",
    "### GPU runners",
  );
  if (r.runners.length === 0) out.push("(none beating now: GPU jobs would wait for a runner)");
  for (const h of r.runners) {
    const gpus = h.gpus.length
      ? h.gpus.map((g) => `${g.name}${g.memoryMiB ? ` ${Math.round(g.memoryMiB / 1024)} GiB` : ""}`).join(", ")
      : "no GPU";
    out.push(`- ${h.host}: ${gpus}; ${h.cpuSlots} CPU job slots`);
  }
  if (r.notes.length) out.push("", "### Scout notes", ...r.notes.map((n) => `- ${n}`));
  return out.join("\n");
}

/** The estimated tokens of a rendered report. */
export function scoutTokens(r: ScoutReport): number {
  return Math.ceil(renderScoutReport(r).length / SCOUT_CHARS_PER_TOKEN);
}

import type { Bus } from "@mllead/bus";
import {
  SCOUT_CHARS_PER_TOKEN,
  SCOUT_TOKEN_BUDGET,
  ScoutQuery,
  ScoutReply,
  type ScoutReport,
  SUBJECTS,
  scoutTokens,
} from "@mllead/contracts";
import { describePythonEnv, type PythonEnvDescription } from "@mllead/sandbox";
import type { Logger } from "pino";
import type { SourceRepo } from "./git-repo.js";
import { readDataDir, readRunners } from "./scout-host.js";
import { type RepoFacts, readRepoFacts, treeEntries } from "./scout-repo.js";

/** What the scout reads besides the repository. */
export interface ScoutSources {
  /** The repository tasks start from (read from its base commit only). */
  source: () => Promise<SourceRepo>;
  /** MLLEAD_DATA_DIRS, absolute. */
  dataDirs: readonly string[];
  /** The Python that commands run (MLLEAD_PYTHON_ENV's description, or the system's); default `describePythonEnv()`. */
  python?: () => Promise<PythonEnvDescription | null>;
  /** Where the runners' heartbeats are; absent = no runner section. */
  bus?: Bus;
  log: Logger;
}

/** Tree lines the report starts with, before the budget cuts them. */
const MAX_TREE_ENTRIES = 200;
/** The share of the budget the docs may take together before anything else is cut. */
const DOCS_SHARE = 0.3;

/** A part of the report that failed to read: said in the report and logged, never hidden. */
async function part<T>(what: string, notes: string[], log: Logger, read: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await read();
  } catch (err) {
    log.warn({ err }, `scout: could not read ${what}`);
    notes.push(`could not read ${what}: ${err instanceof Error ? err.message.slice(0, 300) : String(err)}`);
    return fallback;
  }
}

/** Each doc's head within its share of the budget, cut at a line end. */
function docHeads(facts: RepoFacts, budgetChars: number): ScoutReport["docs"] {
  // 20,000 characters is the most a doc's head may carry in the report (ScoutReport).
  const each = Math.min(20_000, Math.floor((budgetChars * DOCS_SHARE) / Math.max(1, facts.docs.length)));
  return facts.docs.map((d) => {
    if (d.text.length <= each && !d.truncated) return { path: d.path, head: d.text.trimEnd(), truncated: false };
    const cut = d.text.slice(0, each);
    const end = cut.lastIndexOf("\n");
    return { path: d.path, head: (end > each / 2 ? cut.slice(0, end) : cut).trimEnd(), truncated: true };
  });
}

/**
 * Cuts the report until its rendering fits `budgetTokens`: the largest parts first, each halved in turn
 * (data heads, then the tree, docs, data files, commits, packages), and says so in its notes.
 */
export function fitToBudget(report: ScoutReport, facts: RepoFacts | null, budgetTokens: number): ScoutReport {
  const r: ScoutReport = structuredClone(report);
  let treeLimit = r.tree.entries.length;
  const cuts: (() => boolean)[] = [
    () => {
      const withHead = r.dataDirs.flatMap((d) => d.files).filter((f) => f.head && f.head.length > 2);
      for (const f of withHead) f.head = f.head?.slice(0, 2);
      return withHead.length > 0;
    },
    () => {
      if (treeLimit <= 10) return false;
      treeLimit = Math.floor(treeLimit / 2);
      const t = facts ? treeEntries(facts.root, treeLimit) : { entries: r.tree.entries.slice(0, treeLimit), truncated: true };
      r.tree = { ...r.tree, entries: t.entries, truncated: r.tree.truncated || t.truncated };
      return true;
    },
    () => {
      const longest = [...r.docs].sort((a, b) => b.head.length - a.head.length)[0];
      if (!longest || longest.head.length < 200) return false;
      longest.head = longest.head.slice(0, Math.floor(longest.head.length / 2));
      longest.truncated = true;
      return true;
    },
    () => {
      const biggest = [...r.dataDirs].sort((a, b) => b.files.length - a.files.length)[0];
      if (!biggest || biggest.files.length <= 5) return false;
      biggest.files = biggest.files.slice(0, Math.floor(biggest.files.length / 2));
      biggest.truncated = true;
      return true;
    },
    () => {
      if (r.commits.length <= 3) return false;
      r.commits = r.commits.slice(0, 3);
      return true;
    },
    () => {
      if (r.python.packages.length <= 10) return false;
      r.python.packages = r.python.packages.slice(0, 10);
      return true;
    },
  ];
  // Said before cutting, so the note itself is within the budget.
  if (scoutTokens(r) > budgetTokens) {
    r.notes = [...r.notes.slice(0, 19), `cut to fit the planner's budget of about ${budgetTokens} tokens`];
  }
  for (let round = 0; scoutTokens(r) > budgetTokens && round < 60; round++) {
    const progressed = cuts.some((c) => c());
    if (!progressed) {
      // Nothing left to halve: keep the repository line, the data folders' names and the last note.
      r.docs = [];
      r.tree = { ...r.tree, entries: [], truncated: true };
      r.dataDirs = r.dataDirs.map((d) => ({ ...d, files: [], truncated: d.files.length > 0 || d.truncated }));
      r.commits = [];
      r.runners = r.runners.slice(0, 3);
      r.notes = r.notes.slice(-1);
      break;
    }
  }
  return r;
}

/**
 * The scout: what the team's repository holds, read only, within a token budget — the base commit's tree
 * with sizes, the head of README / CLAUDE.md / AGENTS.md and the recent commits (all from git objects,
 * never a worktree), the data folders (files, sizes, the first lines of text tables), the Python packages
 * commands can import and the GPUs the runners report. A part that cannot be read is a note, not a failure.
 */
export async function scoutReport(src: ScoutSources, budgetTokens = SCOUT_TOKEN_BUDGET): Promise<ScoutReport> {
  const notes: string[] = [];
  const budgetChars = budgetTokens * SCOUT_CHARS_PER_TOKEN;
  const source = await src.source();
  const facts = await part("the repository", notes, src.log, () => readRepoFacts(source), null);
  const tree = facts ? treeEntries(facts.root, MAX_TREE_ENTRIES) : { entries: [], truncated: false };
  const dataDirs = await Promise.all(
    src.dataDirs.slice(0, 10).map((d) =>
      part(`the data folder ${d}`, notes, src.log, () => readDataDir(d), {
        path: d,
        files: [],
        truncated: false,
        missing: true,
      }),
    ),
  );
  const noted = notes.length;
  const python = await part("the Python environment", notes, src.log, src.python ?? (() => describePythonEnv()), null);
  if (!python && notes.length === noted)
    notes.push("which Python commands run is not known (no bubblewrap sandbox: they get the service's PATH)");
  const runners = src.bus ? await part("the runners' heartbeats", notes, src.log, () => readRunners(src.bus as Bus), []) : [];
  const report: ScoutReport = {
    repo: {
      label: source.label.slice(0, 500),
      ref: source.baseRef.slice(0, 200),
      commit: facts?.repo.commit ?? "",
    },
    tree: { entries: tree.entries, totalFiles: facts?.root.files ?? 0, truncated: tree.truncated },
    docs: facts ? docHeads(facts, budgetChars) : [],
    commits: facts?.commits ?? [],
    dataDirs,
    python: {
      ...(python?.dir ? { env: python.dir } : {}),
      ...(python ? { interpreter: `${python.interpreter}${python.version ? ` (Python ${python.version})` : ""}` } : {}),
      packages: (python?.packages ?? [])
        .slice(0, 80)
        .map((p) => ({ name: p.name.slice(0, 100), version: p.version.slice(0, 100) })),
    },
    runners,
    notes: [...(facts?.notes ?? []), ...notes, ...source.warnings].map((n) => n.slice(0, 500)).slice(0, 19),
  };
  return fitToBudget(report, facts, budgetTokens);
}

/**
 * Answers `mllead.q.scout` for the tech lead (queue group: one specialist-agent answers). Every failure is
 * an `ok: false` reply with its reason (and a log line), so the tech lead plans on without waiting out its timeout.
 */
export async function serveScout(bus: Bus, src: ScoutSources): Promise<void> {
  await bus.serve(
    SUBJECTS.scoutQuery,
    ScoutQuery,
    ScoutReply,
    async (q) => {
      const log = src.log.child({ taskId: q.taskId });
      try {
        const report = await scoutReport({ ...src, log }, q.budgetTokens);
        log.info({ tokens: scoutTokens(report), files: report.tree.totalFiles }, "scouted the repository for planning");
        return { v: 1 as const, ok: true as const, report };
      } catch (err) {
        log.error({ err }, "scout failed");
        const code = (err as { code?: unknown }).code;
        return {
          v: 1 as const,
          ok: false as const,
          error: {
            code: typeof code === "string" ? code : "scout_failed",
            message: String((err as Error).message ?? err).slice(0, 500),
          },
        };
      }
    },
    (e) => ({ v: 1 as const, ok: false as const, error: { code: e.code, message: e.message } }),
  );
}

import { z } from "zod";
import { Artifact, Id, Metrics, Usage } from "./common.js";

/** What the seed's code reviewer checks, one entry per ML pitfall. */
export const REVIEW_CATEGORIES = [
  "data_leakage",
  "reproducibility",
  "numerical_stability",
  "memory",
  "type_hints",
  "documentation",
  "tests",
  "other",
] as const;
export const ReviewCategory = z.enum(REVIEW_CATEGORIES);
export type ReviewCategory = z.infer<typeof ReviewCategory>;

export const Finding = z.object({
  severity: z.enum(["blocker", "major", "minor", "nit"]),
  category: ReviewCategory,
  file: z.string().max(300).optional(),
  line: z.number().int().positive().optional(),
  message: z.string().min(1).max(2000),
  /** The step whose code this finding is about; a fix round goes back to it. */
  ownerStepId: Id.optional(),
});
export type Finding = z.infer<typeof Finding>;

/** The ML pitfalls a review checks one by one: every review category but `other`. */
export const REVIEW_PITFALLS = [
  "data_leakage",
  "reproducibility",
  "numerical_stability",
  "memory",
  "type_hints",
  "documentation",
  "tests",
] as const satisfies readonly ReviewCategory[];
export const ReviewPitfall = z.enum(REVIEW_PITFALLS);
export type ReviewPitfall = z.infer<typeof ReviewPitfall>;

/** A check as verdicts wrote it before pitfall checks had a status: `{ category, passed, detail }`. */
function fromLegacyCheck(raw: unknown): unknown {
  if (typeof raw !== "object" || raw === null || !("category" in raw) || "pitfall" in raw) return raw;
  const old = raw as { category?: unknown; passed?: unknown; detail?: unknown };
  const detail = typeof old.detail === "string" && old.detail.trim() ? old.detail : "no detail recorded";
  return { pitfall: old.category, status: old.passed === true ? "pass" : "fail", evidence: detail };
}

/**
 * The reviewer's answer for one ML pitfall: `pass` (looked, none found), `fail` (found; the findings say
 * where) or `n/a` (nothing in the change it could apply to), with what shows it.
 */
export const ReviewCheck = z.preprocess(
  fromLegacyCheck,
  z.object({
    pitfall: ReviewPitfall,
    status: z.enum(["pass", "fail", "n/a"]),
    evidence: z.string().min(1).max(500),
  }),
);
export type ReviewCheck = z.infer<typeof ReviewCheck>;

/** The pitfalls `checks` does not answer (empty = every one of the seven is there). */
export function missingPitfalls(checks: readonly Pick<ReviewCheck, "pitfall">[]): ReviewPitfall[] {
  return REVIEW_PITFALLS.filter((p) => !checks.some((c) => c.pitfall === p));
}

/** The code reviewer's structured verdict: the mandatory quality gate. */
export const Verdict = z.object({
  decision: z.enum(["approve", "request_changes"]),
  summary: z.string().min(1).max(2000),
  findings: z.array(Finding).max(50),
  /**
   * One check per ML pitfall (REVIEW_PITFALLS), each once — or none, in a verdict written without them
   * (a hand-made verdict, or one from before checks were required). A reviewer's FinishStep needs all seven.
   */
  checks: z
    .array(ReviewCheck)
    .max(REVIEW_PITFALLS.length)
    .superRefine((checks, ctx) => {
      if (checks.length === 0) return;
      const twice = checks.filter((c, i) => checks.findIndex((o) => o.pitfall === c.pitfall) !== i).map((c) => c.pitfall);
      const missing = missingPitfalls(checks);
      if (twice.length > 0 || missing.length > 0) {
        ctx.addIssue({
          code: "custom",
          message: `one check per pitfall: ${[...(missing.length ? [`missing ${missing.join(", ")}`] : []), ...(twice.length ? [`repeated ${twice.join(", ")}`] : [])].join("; ")}`,
        });
      }
    }),
});
export type Verdict = z.infer<typeof Verdict>;

/** A specialist's answer to one acceptance criterion: met or not, and what shows it. */
export const CriterionResult = z.object({
  /** The criterion's id in the plan step. */
  id: Id,
  /** The criterion's text, repeated for people reading the result. */
  criterion: z.string().max(1000),
  met: z.boolean(),
  evidence: z.string().max(1000),
});
export type CriterionResult = z.infer<typeof CriterionResult>;

/** A commit a step made on the task's branch. */
export const Commit = z.object({
  sha: z.string().regex(/^[0-9a-f]{7,64}$/),
  message: z.string().max(500),
  stepId: Id.optional(),
});
export type Commit = z.infer<typeof Commit>;

/** Where a step's work lives in git: the task's branch in the team's repository. */
export const GitInfo = z.object({
  branch: z.string().min(1).max(200),
  baseCommit: z.string().regex(/^[0-9a-f]{7,64}$/),
  /** Commits this step made (normally one, none when it changed nothing). */
  commits: z.array(Commit).max(50).default([]),
  /** Set when the branch was pushed (after the reviewer approved). */
  pushed: z.object({ remote: z.string().max(500), ref: z.string().max(200) }).optional(),
});
export type GitInfo = z.infer<typeof GitInfo>;

/** The structured outcome of one step. */
export const StepResult = z.object({
  status: z.enum(["succeeded", "failed"]),
  summary: z.string().min(1).max(4000),
  artifacts: z.array(Artifact).max(50).default([]),
  metrics: Metrics.default({}),
  filesChanged: z.array(z.string().max(300)).max(200).default([]),
  /** The answer to each of the step's acceptance criteria, in the step's order. */
  criteria: z.array(CriterionResult).max(20).default([]),
  /** Present on code-reviewer results. */
  verdict: Verdict.optional(),
  /** The GPU job a step ran, if any. */
  jobId: Id.optional(),
  /** The task's branch and this step's commits. */
  git: GitInfo.optional(),
  /** Tokens and tool calls the step's model loop used (absent offline). */
  usage: Usage.optional(),
  /** Things a person should know about how the step ran (e.g. a weaker sandbox). */
  warnings: z.array(z.string().max(500)).max(10).optional(),
});
export type StepResult = z.infer<typeof StepResult>;

/**
 * The step's acceptance criteria that `result` does not show as met with
 * evidence: unanswered, `met: false`, or met with empty evidence. Empty = the
 * step may complete ("never mark a task complete without proving it works").
 */
export function unmetCriteria(
  step: { acceptanceCriteria: readonly { id: string; text: string }[] },
  result: Pick<StepResult, "criteria">,
): CriterionResult[] {
  const byId = new Map(result.criteria.map((c) => [c.id, c]));
  const unmet: CriterionResult[] = [];
  for (const c of step.acceptanceCriteria) {
    const answer = byId.get(c.id);
    if (!answer) unmet.push({ id: c.id, criterion: c.text, met: false, evidence: "not answered" });
    else if (!answer.met || answer.evidence.trim() === "") {
      unmet.push({ ...answer, met: false, evidence: answer.evidence.trim() || "no evidence given" });
    }
  }
  return unmet;
}

/** One line people can act on, naming each unmet criterion and why. */
export function describeUnmet(unmet: readonly CriterionResult[]): string {
  const parts = unmet.map((c) => `${c.id} "${c.criterion.slice(0, 160)}" (${c.evidence.slice(0, 200)})`);
  return `acceptance criteria not met: ${parts.join("; ")}`.slice(0, 2000);
}

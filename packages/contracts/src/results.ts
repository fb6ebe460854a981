import { z } from "zod";
import { Artifact, Id, Metrics } from "./common.js";

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

/** The code reviewer's structured verdict: the mandatory quality gate. */
export const Verdict = z.object({
  decision: z.enum(["approve", "request_changes"]),
  summary: z.string().min(1).max(2000),
  findings: z.array(Finding).max(50),
  checks: z.array(z.object({ category: ReviewCategory, passed: z.boolean(), detail: z.string().max(500) })).max(20),
});
export type Verdict = z.infer<typeof Verdict>;

/** The structured outcome of one step. */
export const StepResult = z.object({
  status: z.enum(["succeeded", "failed"]),
  summary: z.string().min(1).max(4000),
  artifacts: z.array(Artifact).max(50).default([]),
  metrics: Metrics.default({}),
  filesChanged: z.array(z.string().max(300)).max(200).default([]),
  /** Which acceptance criteria were met, in the step's order. */
  criteria: z
    .array(z.object({ criterion: z.string().max(1000), met: z.boolean(), evidence: z.string().max(1000) }))
    .max(20)
    .default([]),
  /** Present on code-reviewer results. */
  verdict: Verdict.optional(),
  /** The GPU job a step ran, if any. */
  jobId: Id.optional(),
});
export type StepResult = z.infer<typeof StepResult>;

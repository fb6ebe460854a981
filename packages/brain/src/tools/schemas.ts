import { Finding, REVIEW_PITFALLS, ReviewPitfall } from "@mllead/contracts";
import { z } from "zod";

/**
 * Tool inputs with Claude Code's names and shapes, so an agent file written for
 * Claude Code works unchanged; `SubmitGpuJob` and `FinishStep` are mllead's own.
 * Paths may be absolute (under the workspace) or relative to it.
 */
export const ReadInput = z.object({
  file_path: z.string().min(1).describe("The path of the file to read (absolute, or relative to the working directory)"),
  offset: z.number().int().min(1).optional().describe("The line number to start reading from (1-based)"),
  limit: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("How many lines to read (default 2000; one answer stops at about 25,000 tokens whatever the limit)"),
});

export const WriteInput = z.object({
  file_path: z.string().min(1).describe("The path of the file to write; directories are created"),
  content: z.string().describe("The whole content of the file"),
});

export const EditInput = z.object({
  file_path: z.string().min(1).describe("The path of the file to change"),
  old_string: z.string().min(1).describe("The exact text to replace; must occur once unless replace_all is set"),
  new_string: z.string().describe("The text to put in its place (must differ from old_string)"),
  replace_all: z.boolean().optional().describe("Replace every occurrence (default false)"),
});

export const GlobInput = z.object({
  pattern: z.string().min(1).describe('A glob such as "**/*.py" or "src/**/*.ts"'),
  path: z
    .string()
    .optional()
    .describe("The directory to search in (default: the working directory; a data dir by its absolute path)"),
});

export const GrepInput = z.object({
  pattern: z.string().min(1).describe("A regular expression in ripgrep's syntax (RE2: no backreferences or lookaround)"),
  path: z
    .string()
    .optional()
    .describe("File or directory to search (default: the working directory; a data dir by its absolute path)"),
  glob: z.string().optional().describe('Only files matching this glob, e.g. "*.py"'),
  type: z.string().optional().describe('Only files of this type, e.g. "py", "ts", "md"'),
  output_mode: z
    .enum(["content", "files_with_matches", "count"])
    .optional()
    .describe("content: matching lines; files_with_matches (default): file paths; count: matches per file"),
  "-i": z.boolean().optional().describe("Case-insensitive"),
  "-n": z.boolean().optional().describe("Show line numbers (content mode)"),
  "-A": z.number().int().min(0).max(50).optional().describe("Lines after each match (content mode)"),
  "-B": z.number().int().min(0).max(50).optional().describe("Lines before each match (content mode)"),
  "-C": z.number().int().min(0).max(50).optional().describe("Lines around each match (content mode)"),
  multiline: z.boolean().optional().describe("Let . match newlines and patterns span lines"),
  head_limit: z.number().int().min(1).optional().describe("Only the first N lines or entries of the output"),
});

export const BashInput = z.object({
  command: z.string().min(1).describe("The shell command to run (bash) in the working directory, inside the sandbox"),
  timeout: z.number().int().min(1000).max(3_600_000).optional().describe("Timeout in milliseconds (default 300000)"),
  description: z.string().max(200).optional().describe("What the command does, in a few words"),
});

export const SubmitGpuJobInput = z.object({
  command: z
    .array(z.string().min(1))
    .min(1)
    .max(200)
    .describe('The argv to run in the job directory, without a shell, e.g. ["python3", "training/train.py", "--epochs", "5"]'),
  files: z
    .array(z.string().min(1))
    .max(20)
    .optional()
    .describe(
      "Not needed: the whole working directory is shipped. Kept for agent files that list files (up to 256 KiB each); they are placed over it",
    ),
  inputs: z
    .array(z.string().min(1))
    .max(20)
    .optional()
    .describe(
      "Workspace files the shipped working directory leaves out — ignored by .gitignore, or over 64 MiB (data the step made) — uploaded to the artifact store and placed in the job directory at the same path",
    ),
  gpus: z.number().int().min(0).max(16).optional().describe("GPUs the job needs (default 1; 0 = CPU)"),
  timeout_sec: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .optional()
    .describe("Job time limit in seconds (default 3600)"),
  env: z
    .record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string().max(4000))
    .optional()
    .describe("Extra environment"),
  description: z.string().max(200).optional(),
});

export const FinishStepInput = z.object({
  summary: z.string().min(1).max(4000).describe("What the step did and found, for the team's Slack thread"),
  criteria: z
    .array(
      z.object({
        id: z.string().min(1).max(64).describe("The acceptance criterion's id from the step (ac1, ac2, …)"),
        met: z.boolean(),
        evidence: z.string().min(1).max(1000).describe("What shows it: a command and its output, a file, a number"),
      }),
    )
    .max(20)
    .describe("One entry for every acceptance criterion of the step"),
  metrics: z.record(z.string(), z.number()).optional().describe('Named numeric results, e.g. {"val_auc": 0.83}'),
  artifacts: z
    .array(z.string().min(1))
    .max(50)
    .optional()
    .describe("Workspace files to keep as artifacts (reports, plots, metrics)"),
});

/** One pitfall the reviewer checked, as its FinishStep gives it. */
const ReviewCheckInput = z.object({
  pitfall: ReviewPitfall,
  status: z
    .enum(["pass", "fail", "n/a"])
    .describe("pass: looked and found none; fail: found (the findings say where); n/a: nothing in the change it applies to"),
  evidence: z.string().min(1).max(500).describe("What you looked at and what shows it: files, lines, a command and its output"),
});

/** The code reviewer's FinishStep also carries the verdict, with one check per ML pitfall. */
export const ReviewerFinishStepInput = FinishStepInput.extend({
  verdict: z.object({
    decision: z.enum(["approve", "request_changes"]),
    summary: z.string().min(1).max(2000),
    findings: z.array(Finding).max(50),
    checks: z
      .array(ReviewCheckInput)
      .max(REVIEW_PITFALLS.length)
      .describe(`Exactly one check for each pitfall: ${REVIEW_PITFALLS.join(", ")}`),
  }),
});

export type ReadInput = z.infer<typeof ReadInput>;
export type WriteInput = z.infer<typeof WriteInput>;
export type EditInput = z.infer<typeof EditInput>;
export type GlobInput = z.infer<typeof GlobInput>;
export type GrepInput = z.infer<typeof GrepInput>;
export type BashInput = z.infer<typeof BashInput>;
export type SubmitGpuJobInput = z.infer<typeof SubmitGpuJobInput>;
export type FinishStepInput = z.infer<typeof FinishStepInput>;
export type ReviewerFinishStepInput = z.infer<typeof ReviewerFinishStepInput>;

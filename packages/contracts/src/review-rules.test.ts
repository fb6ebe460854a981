import { describe, expect, it } from "vitest";
import { numberedCriteria, type Plan } from "./plan.js";
import { REVIEW_CRITERIA, validatePlan } from "./plan-rules.js";
import { REVIEW_PITFALLS, Verdict } from "./results.js";

type S = Plan["steps"][number];
const step = (id: string, role: S["role"], criteria: S["acceptanceCriteria"], dependsOn: string[] = []): S => ({
  id,
  role,
  title: id,
  objective: "o",
  context: "",
  requirements: ["r"],
  acceptanceCriteria: criteria,
  params: {},
  nextHandoff: { to: "tech-lead", reason: "x" },
  dependsOn,
  changesCode: role !== "code-reviewer",
  usesGpu: false,
});

const data = step("data", "data-engineer", numberedCriteria("splits written"));

describe("the review's own criteria", () => {
  it("accepts a reviewer with exactly REVIEW_CRITERIA, in any order", () => {
    const review = step("review", "code-reviewer", [...REVIEW_CRITERIA].reverse(), ["data"]);
    expect(validatePlan({ steps: [data, review] })).toEqual([]);
  });

  it("refuses a reviewer whose criterion is about the code, and tells the planner what to write instead", () => {
    const review = step("review", "code-reviewer", numberedCriteria("No data leakage anywhere in the pipeline"), ["data"]);
    const problems = validatePlan({ steps: [data, review] });
    expect(problems.map((p) => p.code)).toEqual(["review_criteria"]);
    const message = problems[0]?.message ?? "";
    for (const c of REVIEW_CRITERIA) expect(message).toContain(`${c.id} "${c.text}"`);
    expect(message).toContain("requirements");
    expect(message).toContain("fix round");
  });

  it("refuses one extra criterion beside the review's own", () => {
    const extra = [...REVIEW_CRITERIA, { id: "ac5", text: "The scaler is fitted on train only" }];
    expect(validatePlan({ steps: [data, step("review", "code-reviewer", extra, ["data"])] }).map((p) => p.code)).toEqual([
      "review_criteria",
    ]);
  });
});

describe("a verdict's checks", () => {
  const base = { decision: "approve" as const, summary: "fine", findings: [] };
  const all = REVIEW_PITFALLS.map((pitfall) => ({ pitfall, status: "pass" as const, evidence: "looked" }));

  it("holds one check per pitfall, or none", () => {
    expect(Verdict.safeParse({ ...base, checks: all }).success).toBe(true);
    expect(Verdict.safeParse({ ...base, checks: [] }).success).toBe(true);
  });

  it("refuses a missing or repeated pitfall, naming it", () => {
    const missing = Verdict.safeParse({ ...base, checks: all.slice(1) });
    expect(missing.success).toBe(false);
    expect(missing.error?.issues[0]?.message).toContain("missing data_leakage");
    const twice = Verdict.safeParse({ ...base, checks: [...all.slice(0, 6), all[0]] });
    expect(twice.error?.issues[0]?.message).toContain("repeated data_leakage");
  });

  it("reads the checks of verdicts stored before statuses ({ category, passed, detail })", () => {
    const legacy = REVIEW_PITFALLS.map((category, i) => ({ category, passed: i > 0, detail: i > 0 ? "ok" : "" }));
    const parsed = Verdict.parse({ ...base, checks: legacy });
    expect(parsed.checks[0]).toEqual({ pitfall: "data_leakage", status: "fail", evidence: "no detail recorded" });
    expect(parsed.checks[1]).toEqual({ pitfall: "reproducibility", status: "pass", evidence: "ok" });
  });
});

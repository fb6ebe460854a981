import { describe, expect, it } from "vitest";
import { Id } from "./common.js";
import { InvalidTransitionError } from "./errors.js";
import { jobIdFor, taskIdFor } from "./ids.js";
import { GpuJob } from "./jobs.js";
import { canTransition, TASK_STATES, TASK_TRANSITIONS, transition } from "./lifecycle.js";
import { Plan, topologicalOrder } from "./plan.js";
import { REVIEW_CRITERIA, stepKind, validatePlan } from "./plan-rules.js";
import { SUBJECTS } from "./subjects.js";

type S = Plan["steps"][number];
const step = (id: string, role: S["role"], dependsOn: string[] = [], changesCode = false): S => ({
  id,
  role,
  title: id,
  objective: "o",
  context: "",
  requirements: ["r"],
  acceptanceCriteria: role === "code-reviewer" ? [...REVIEW_CRITERIA] : [{ id: "ac1", text: "a" }],
  params: {},
  nextHandoff: { to: "tech-lead", reason: "x" },
  dependsOn,
  changesCode,
  usesGpu: false,
});

describe("task lifecycle", () => {
  it("follows the designed path and refuses shortcuts", () => {
    const path = [
      "requested",
      "planning",
      "awaiting_approval",
      "revising",
      "awaiting_approval",
      "executing",
      "reviewing",
      "fixing",
      "reviewing",
      "done",
    ] as const;
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1] as never, path[i] as never)).toBe(true);
    expect(() => transition("awaiting_approval", "done")).toThrow(InvalidTransitionError);
    expect(() => transition("planning", "executing")).toThrow(/cannot go from 'planning' to 'executing'/);
  });

  it("terminal states lead nowhere; every live state can fail or be cancelled", () => {
    for (const s of TASK_STATES) {
      if (["done", "failed", "cancelled"].includes(s)) expect(TASK_TRANSITIONS[s]).toEqual([]);
      else {
        expect(canTransition(s, "failed")).toBe(true);
        expect(canTransition(s, "cancelled")).toBe(true);
      }
    }
  });
});

describe("plan rules", () => {
  const good = [
    step("data", "data-engineer", [], true),
    step("train", "ml-engineer", ["data"], true),
    step("report", "analyst", ["train"]),
    step("review", "code-reviewer", ["data", "train", "report"]),
  ];
  const codes = (steps: S[], shape?: Plan["shape"]) => validatePlan({ steps, ...(shape ? { shape } : {}) }).map((p) => p.code);
  const kinded = (s: S, kind: S["kind"], params: S["params"] = {}): S => ({ ...s, kind, params });

  it("accepts the seed's pipeline and orders it", () => {
    expect(validatePlan({ steps: good })).toEqual([]);
    expect(topologicalOrder({ steps: [...good].reverse() }).map((s) => s.id)).toEqual(["data", "train", "report", "review"]);
  });

  it("requires the code reviewer", () => {
    expect(codes(good.slice(0, 3))).toContain("missing_review");
  });

  it("requires review after every step that changes code", () => {
    const steps = [...good.slice(0, 3), step("review", "code-reviewer", ["data"])];
    expect(codes(steps)).toContain("review_not_last");
  });

  it("requires review after every other step, not only those that change code: no early finish", () => {
    // The measured case: the analysis changes no code, the review waits only for data and model, so both were
    // dispatched together and an approving review closed the task while the analysis still ran.
    const steps = [
      step("data", "data-engineer", [], true),
      step("train", "ml-engineer", ["data"], true),
      step("analyze", "analyst", ["train"], false),
      step("review", "code-reviewer", ["data", "train"]),
    ];
    const problems = validatePlan({ steps });
    expect(problems).toEqual([
      {
        code: "review_not_last",
        message: expect.stringContaining("review 'review' must come after 'analyze'"),
        stepId: "review",
      },
    ]);
    // Every other step, directly or through another: the review after the analysis alone is enough.
    expect(codes([...steps.slice(0, 3), step("review", "code-reviewer", ["analyze"])])).toEqual([]);
    // Two reviewers both wait for everything.
    expect(codes([...good, step("review2", "code-reviewer", ["train"])])).toEqual(["review_not_last"]);
  });

  it("requires data before model and model before analysis", () => {
    const steps = [
      step("data", "data-engineer"),
      step("train", "ml-engineer"),
      step("report", "analyst", ["data"]),
      step("review", "code-reviewer", ["data", "train", "report"]),
    ];
    expect(codes(steps)).toContain("model_before_data");
    expect(codes(steps)).toContain("report_before_metrics");
  });

  it("requires feature work before training, and data before feature work", () => {
    const steps = [
      step("data", "data-engineer"),
      kinded(step("feats", "data-engineer", []), "features"),
      step("train", "ml-engineer", ["data"]),
      step("review", "code-reviewer", ["train", "feats"]),
    ];
    const problems = validatePlan({ steps });
    expect(problems.map((p) => p.code)).toEqual(["features_before_data", "model_before_data"]);
    expect(problems[1]?.message).toContain("model step 'train' must depend on feature step 'feats'");
    const fixed = [
      steps[0],
      kinded(step("feats", "ml-engineer", ["data"]), "features"),
      step("train", "ml-engineer", ["feats"]),
      steps[3],
    ];
    expect(codes(fixed as S[])).toEqual([]);
  });

  it("requires evaluation before reporting", () => {
    const steps = [
      step("data", "data-engineer"),
      step("train", "ml-engineer", ["data"]),
      kinded(step("eval", "ml-engineer", ["train"]), "evaluate"),
      step("report", "analyst", ["train"]),
      step("review", "code-reviewer", ["report", "eval"]),
    ];
    expect(validatePlan({ steps })).toEqual([
      expect.objectContaining({ code: "report_before_metrics", stepId: "report", message: expect.stringContaining("'eval'") }),
    ]);
    const fixed = steps.map((s) => (s.id === "report" ? { ...s, dependsOn: ["eval"] } : s));
    expect(codes(fixed)).toEqual([]);
  });

  it("allows EDA before training and scoring after it, and both in parallel with other steps", () => {
    // data → {eda, train} in parallel; train → {score, report} in parallel; review after all.
    const steps = [
      step("data", "data-engineer", [], true),
      kinded(step("eda", "analyst", ["data"]), "eda"),
      step("train", "ml-engineer", ["data", "eda"], true),
      kinded(step("score", "ml-engineer", ["train"]), "score"),
      step("report", "analyst", ["train"]),
      step("review", "code-reviewer", ["eda", "score", "report"]),
    ];
    expect(validatePlan({ steps })).toEqual([]);
    // Training need not wait for the EDA: the seed lets them run side by side.
    expect(codes(steps.map((s) => (s.id === "train" ? { ...s, dependsOn: ["data"] } : s)))).toEqual([]);
    // Without kinds the same plan reads as a report written before its metrics and a second training step.
    expect(codes(steps.map((s) => ({ ...s, kind: undefined }) as S))).toEqual(expect.arrayContaining(["report_before_metrics"]));
  });

  it("scoring and evaluation wait for the model they use", () => {
    const steps = [
      step("train", "ml-engineer", [], true),
      kinded(step("score", "ml-engineer", []), "score"),
      step("review", "code-reviewer", ["train", "score"]),
    ];
    expect(validatePlan({ steps })).toEqual([expect.objectContaining({ code: "scoring_before_training", stepId: "score" })]);
  });

  it("keeps a triage in order: investigate → root cause → fix → verify, review last", () => {
    const triage = [
      kinded(step("investigate", "data-engineer", [], true), "investigate"),
      kinded(step("rootcause", "analyst", ["investigate"]), "root-cause"),
      kinded(step("fix", "ml-engineer", ["rootcause"], true), "fix"),
      kinded(step("verify", "analyst", ["fix"]), "verify"),
      step("review", "code-reviewer", ["verify"]),
    ];
    expect(codes(triage, "triage")).toEqual([]);
    const early = triage.map((s) => (s.id === "fix" ? { ...s, dependsOn: ["investigate"] } : s));
    expect(validatePlan({ steps: early, shape: "triage" })).toEqual([
      expect.objectContaining({ code: "triage_out_of_order", stepId: "fix", message: expect.stringContaining("root-cause") }),
      // The root cause is now off the review's path too.
      expect.objectContaining({ code: "review_not_last" }),
    ]);
    const unverified = triage.map((s) => (s.id === "verify" ? { ...s, dependsOn: ["rootcause"] } : s));
    expect(codes(unverified, "triage")).toContain("triage_out_of_order");
    // A triage without a fix or a verification is not a triage.
    expect(codes([triage[0], triage[1], step("review", "code-reviewer", ["rootcause"])] as S[], "triage")).toEqual([
      "shape_mismatch",
    ]);
  });

  it("checks each kind against the role that does it, and a sweep's trials", () => {
    expect(codes([kinded(step("t", "analyst"), "train"), step("r", "code-reviewer", ["t"])])).toEqual(["bad_kind"]);
    const sweep = (trials?: number) => [
      step("data", "data-engineer"),
      kinded(step("sweep", "ml-engineer", ["data"]), "sweep", trials === undefined ? {} : { trials }),
      step("r", "code-reviewer", ["sweep"]),
    ];
    expect(codes(sweep(), "sweep")).toEqual(["bad_kind"]);
    expect(codes(sweep(1), "sweep")).toEqual(["bad_kind"]);
    expect(codes(sweep(30), "sweep")).toEqual([]);
  });

  it("checks the steps a named shape needs", () => {
    expect(codes(good, "experiment-cycle")).toEqual([]);
    expect(codes(good, "single-specialist")).toEqual(["shape_mismatch"]);
    expect(codes([step("train", "ml-engineer"), step("r", "code-reviewer", ["train"])], "single-specialist")).toEqual([]);
    expect(codes(good, "sweep")).toEqual(["shape_mismatch"]);
    expect(codes(good, "exploration")).toEqual(["shape_mismatch"]);
    expect(codes([step("data", "data-engineer"), step("r", "code-reviewer", ["data"])], "data-quality")).toEqual([]);
    expect(validatePlan({ steps: good, shape: "triage" })[0]?.message).toMatch(/investigate → root cause → fix → verify/);
  });

  it("gives a step without a kind its role's usual kind, so older plans keep their meaning", () => {
    expect(good.map((s) => stepKind(s))).toEqual(["data", "train", "report", "review"]);
    expect(Plan.safeParse({ summary: "s", scope: "multi-agent", risks: [], steps: good, brain: "offline" }).success).toBe(true);
    const parsed = Plan.parse({ summary: "s", scope: "multi-agent", risks: [], steps: good, brain: "offline" });
    expect(parsed.shape).toBeUndefined();
    expect(parsed.steps[0]?.kind).toBeUndefined();
  });

  it("finds cycles, unknown and duplicate steps", () => {
    expect(
      validatePlan({ steps: [step("a", "analyst", ["b"]), step("b", "analyst", ["a"]), step("r", "code-reviewer", ["a"])] }).map(
        (p) => p.code,
      ),
    ).toContain("cycle");
    expect(validatePlan({ steps: [step("a", "analyst", ["zzz"])] }).map((p) => p.code)).toEqual(["unknown_dependency"]);
    expect(validatePlan({ steps: [step("a", "analyst"), step("a", "analyst")] }).map((p) => p.code)).toContain("duplicate_step");
  });
});

describe("subjects and ids", () => {
  it("puts each event under its task, step or job", () => {
    expect(SUBJECTS.event({ type: "task.planned", taskId: "t1" })).toBe("mllead.evt.task.t1.task.planned");
    expect(SUBJECTS.event({ type: "step.completed", taskId: "t1", stepId: "train" })).toBe(
      "mllead.evt.task.t1.step.train.completed",
    );
    expect(SUBJECTS.event({ type: "job.finished", taskId: "t1", jobId: "j1" })).toBe("mllead.evt.task.t1.job.j1.finished");
  });

  it("derives stable, subject-safe ids", () => {
    const a = taskIdFor("C1", "1700000000.000100", "T1");
    expect(a).toBe(taskIdFor("C1", "1700000000.000100", "T1"));
    expect(a).not.toBe(taskIdFor("C1", "1700000000.000200", "T1"));
    expect(Id.safeParse(a).success).toBe(true);
    expect(Id.safeParse(jobIdFor(a, "train", 2)).success).toBe(true);
    expect(Id.safeParse("has.dot").success).toBe(false);
  });

  it("keeps job files inside the job directory", () => {
    const base = {
      v: 1,
      jobId: "j",
      taskId: "t",
      stepId: "s",
      attempt: 1,
      command: ["python3", "x.py"],
      submittedAt: "2026-11-25T00:00:00Z",
    };
    expect(GpuJob.safeParse({ ...base, files: [{ path: "x.py", content: "" }] }).success).toBe(true);
    expect(GpuJob.safeParse({ ...base, files: [{ path: "../etc/passwd", content: "" }] }).success).toBe(false);
    expect(GpuJob.safeParse({ ...base, files: [{ path: "/etc/passwd", content: "" }] }).success).toBe(false);
  });
});

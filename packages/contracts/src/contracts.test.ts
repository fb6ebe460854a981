import { describe, expect, it } from "vitest";
import { Id } from "./common.js";
import { jobIdFor, taskIdFor } from "./ids.js";
import { GpuJob } from "./jobs.js";
import { type Plan, topologicalOrder, validatePlan } from "./plan.js";
import { SUBJECTS } from "./subjects.js";
import { canTransition, InvalidTransitionError, TASK_STATES, TASK_TRANSITIONS, transition } from "./task.js";

type S = Plan["steps"][number];
const step = (id: string, role: S["role"], dependsOn: string[] = [], changesCode = false): S => ({
  id,
  role,
  title: id,
  objective: "o",
  context: "",
  requirements: ["r"],
  acceptanceCriteria: [{ id: "ac1", text: "a" }],

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

  it("accepts the seed's pipeline and orders it", () => {
    expect(validatePlan({ steps: good })).toEqual([]);
    expect(topologicalOrder({ steps: [...good].reverse() }).map((s) => s.id)).toEqual(["data", "train", "report", "review"]);
  });

  it("requires the code reviewer", () => {
    expect(validatePlan({ steps: good.slice(0, 3) }).map((p) => p.code)).toContain("missing_review");
  });

  it("requires review after every step that changes code", () => {
    const steps = [...good.slice(0, 3), step("review", "code-reviewer", ["data"])];
    expect(validatePlan({ steps }).map((p) => p.code)).toContain("review_not_last");
  });

  it("requires data before model and model before analysis", () => {
    const steps = [
      step("data", "data-engineer"),
      step("train", "ml-engineer"),
      step("report", "analyst", ["data"]),
      step("review", "code-reviewer", ["data", "train", "report"]),
    ];
    const codes = validatePlan({ steps }).map((p) => p.code);
    expect(codes).toContain("model_before_data");
    expect(codes).toContain("report_before_metrics");
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

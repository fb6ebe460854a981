/**
 * Records for tests (`@mllead/contracts/testing`): a step with a full handoff, a plan, a task record and a GPU job,
 * each with placeholder text and the fields a test cares about given. Never imported by product code.
 */

import type { StepWork } from "../commands.js";
import type { Role } from "../common.js";
import { GpuJob, type GpuJobInput } from "../jobs.js";
import type { Plan, Step } from "../plan.js";
import { REVIEW_CRITERIA } from "../plan-rules.js";
import type { TaskRecord } from "../task.js";

/** The time every fixture is stamped with. */
export const FIXTURE_NOW = "2026-12-07T12:00:00.000Z";

/**
 * A step with placeholder handoff text and one criterion `ac1` (a reviewer: the review's own, REVIEW_CRITERIA);
 * code-changing unless a reviewer; GPU for the ml-engineer.
 */
export function testStep(
  id: string,
  role: Role,
  opts: { dependsOn?: string[]; changesCode?: boolean; usesGpu?: boolean; title?: string } = {},
): Step {
  return {
    id,
    role,
    title: opts.title ?? `${id} step`,
    objective: "o",
    context: "c",
    requirements: ["r"],
    acceptanceCriteria: role === "code-reviewer" ? [...REVIEW_CRITERIA] : [{ id: "ac1", text: "a" }],
    params: {},
    nextHandoff: { to: "tech-lead", reason: "done" },
    dependsOn: opts.dependsOn ?? [],
    changesCode: opts.changesCode ?? role !== "code-reviewer",
    usesGpu: opts.usesGpu ?? role === "ml-engineer",
  };
}

/** A plan of `steps` made by the offline brain. */
export function testPlan(steps: Step[], overrides: Partial<Plan> = {}): Plan {
  return { summary: "a test plan", scope: "multi-agent", risks: [], brain: "offline", steps, ...overrides };
}

/** An executing task `t1` in channel C1 with the given plan and step states. */
export function testTaskRecord(
  fields: Pick<TaskRecord, "plan" | "steps"> & Partial<Omit<TaskRecord, "plan" | "steps">>,
): TaskRecord {
  return {
    v: 1,
    id: "t1",
    text: "train a baseline",
    requester: { userId: "UREQ" },
    slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" },
    state: "executing",
    revision: 1,
    reviewRounds: 0,
    replans: 0,
    feedback: [],
    createdAt: FIXTURE_NOW,
    updatedAt: FIXTURE_NOW,
    outbox: [],
    eventSeq: 0,
    decisions: [],
    ...fields,
  };
}

/** The work order for `step` of task `t1` (attempt 1, nothing upstream), as the tech lead dispatches it. */
export function testStepWork(step: Step, overrides: Partial<StepWork> = {}): StepWork {
  return {
    v: 1,
    taskId: "t1",
    stepId: step.id,
    attempt: 1,
    role: step.role,
    step,
    task: {
      text: "train a baseline",
      requester: { userId: "UREQ" },
      slack: { channel: "C1", threadTs: "1.0", messageTs: "1.0" },
    },
    upstream: [],
    findings: [],
    reviewScope: [],
    brain: "anthropic",
    ...overrides,
  };
}

/** GPU job `j1` of step `train` of task `t1` (attempt 1, `python3 job.py` on no GPU, 60 s), parsed; `over` replaces any field. */
export function testGpuJob(over: Partial<GpuJobInput> = {}): GpuJob {
  return GpuJob.parse({
    v: 1,
    jobId: "j1",
    taskId: "t1",
    stepId: "train",
    attempt: 1,
    command: ["python3", "job.py"],
    gpus: 0,
    timeoutSec: 60,
    submittedAt: FIXTURE_NOW,
    ...over,
  });
}

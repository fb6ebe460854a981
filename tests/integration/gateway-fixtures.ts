import type { EventOf, Plan, TaskView } from "@mllead/contracts";

/** A small valid plan, as the offline brain would write it. */
export function plan(brain: Plan["brain"] = "offline"): Plan {
  const handoff = { to: "tech-lead" as const, reason: "report back" };
  return {
    summary: "Clean the events table, train a baseline, review the code.",
    scope: "multi-agent",
    risks: [{ risk: "label leakage", mitigation: "split by customer" }],
    brain,
    steps: [
      {
        id: "s1",
        role: "data-engineer",
        title: "Clean events",
        objective: "Deduplicate and validate the events table",
        context: "",
        requirements: ["drop duplicate rows"],
        acceptanceCriteria: [{ id: "ac1", text: "no duplicate event ids" }],

        params: {},
        nextHandoff: { to: "ml-engineer", reason: "clean data is ready" },
        dependsOn: [],
        changesCode: true,
        usesGpu: false,
      },
      {
        id: "s2",
        role: "code-reviewer",
        title: "Review",
        objective: "Review every change",
        context: "",
        requirements: ["check for leakage"],
        acceptanceCriteria: [{ id: "ac1", text: "a verdict" }],

        params: {},
        nextHandoff: handoff,
        dependsOn: ["s1"],
        changesCode: false,
        usesGpu: false,
      },
    ],
  };
}

const at = () => new Date().toISOString();

export function planEvent(taskId: string, revision = 1, brain: Plan["brain"] = "offline"): EventOf<"task.planned"> {
  return {
    v: 1,
    eventId: `${taskId}:planned:${revision}`,
    taskId,
    at: at(),
    type: "task.planned",
    revision,
    plan: plan(brain),
    requester: "U0HUMAN",
  };
}

export function updatedEvent(
  taskId: string,
  seq: number,
  state: TaskView["state"],
  slack: TaskView["slack"],
  stepStatus: TaskView["steps"][number]["status"] = "pending",
): EventOf<"task.updated"> {
  return {
    v: 1,
    eventId: `${taskId}:updated:${seq}`,
    taskId,
    at: at(),
    type: "task.updated",
    view: {
      id: taskId,
      text: "train a baseline",
      state,
      revision: 1,
      requester: "U0HUMAN",
      slack,
      brain: "offline",
      steps: [
        { id: "s1", role: "data-engineer", title: "Clean events", status: stepStatus, attempt: 1 },
        { id: "s2", role: "code-reviewer", title: "Review", status: "pending", attempt: 1 },
      ],
      updatedAt: at(),
    },
  };
}

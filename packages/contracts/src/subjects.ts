import type { Role } from "./common.js";
import type { TaskEvent } from "./events.js";

/** Every NATS subject mllead uses. Nothing else builds subject strings. */
export const SUBJECTS = {
  taskCreate: "mllead.cmd.task.create",
  taskDecide: "mllead.cmd.task.decide",
  stepWork: (role: Role) => `mllead.work.step.${role}`,
  gpuJob: "mllead.work.gpu",
  statusQuery: "mllead.q.status",
  /** Request/reply for `/mllead lessons` (list, forget), answered by the tech lead. */
  lessonsQuery: "mllead.q.lessons",
  /** Request/reply for `/mllead dead` (list, show, replay, drop what sits in MLLEAD_DEAD), answered by the tech lead. */
  deadQuery: "mllead.q.dead",
  /** The same for `pnpm dead`: only the `ops` NATS user may publish here, so the tech lead takes it as the operator. */
  deadOpsQuery: "mllead.q.dead.cli",
  /** Request/reply for the repository's context before planning, asked by the tech lead, answered by a specialist-agent. */
  scoutQuery: "mllead.q.scout",
  /** `mllead.evt.task.<taskId>.<task|step|job>.[<stepId|jobId>.]<kind>` */
  event: (e: Pick<TaskEvent, "type" | "taskId"> & { stepId?: string | undefined; jobId?: string | undefined }): string => {
    const [scope, kind] = e.type.split(".") as [string, string];
    if (scope === "step") return `mllead.evt.task.${e.taskId}.step.${e.stepId}.${kind}`;
    if (scope === "job") return `mllead.evt.task.${e.taskId}.job.${e.jobId}.${kind}`;
    return `mllead.evt.task.${e.taskId}.task.${kind}`;
  },
  /** Every event of one task (for audit and re-attachment). */
  taskEvents: (taskId: string) => `mllead.evt.task.${taskId}.>`,
  /** Where a durable consumer keeps the messages it set aside (dead letters), with their reason in headers. */
  deadLetter: (durable: string) => `mllead.dead.${durable}`,
} as const;

/** What an event subject says (see `SUBJECTS.event`): whose event it is and its type (`step.completed`). */
export interface EventSubject {
  taskId: string;
  scope: "task" | "step" | "job";
  /** The step's or job's id; absent for a task event. */
  id?: string;
  /** The event's type, `<scope>.<kind>` (e.g. `task.cancelled`). */
  type: string;
}

/** Reads an event subject back into its parts (the inverse of `SUBJECTS.event`); null for any other subject. */
export function parseEventSubject(subject: string): EventSubject | null {
  const parts = subject.split(".");
  if (parts[0] !== "mllead" || parts[1] !== "evt" || parts[2] !== "task") return null;
  const [, , , taskId, scope, ...rest] = parts;
  if (!taskId) return null;
  if (scope === "task" && rest.length === 1) return { taskId, scope, type: `task.${rest[0]}` };
  if ((scope === "step" || scope === "job") && rest.length === 2 && rest[0]) {
    return { taskId, scope, id: rest[0], type: `${scope}.${rest[1]}` };
  }
  return null;
}

const DAY = 24 * 3600;

/** Every JetStream stream, as its owner creates it (a `StreamSpec` of `@mllead/bus`). */
export const STREAMS = {
  commands: {
    name: "MLLEAD_CMD",
    subjects: ["mllead.cmd.>"],
    retention: "workqueue",
    maxAgeSec: 7 * DAY,
    duplicateWindowSec: 3600,
  },
  steps: {
    name: "MLLEAD_STEPS",
    subjects: ["mllead.work.step.>"],
    retention: "workqueue",
    maxAgeSec: 7 * DAY,
    duplicateWindowSec: 3600,
  },
  gpu: {
    name: "MLLEAD_GPU",
    subjects: ["mllead.work.gpu"],
    retention: "workqueue",
    maxAgeSec: 7 * DAY,
    duplicateWindowSec: 3600,
  },
  events: {
    name: "MLLEAD_EVENTS",
    subjects: ["mllead.evt.>"],
    retention: "limits",
    maxAgeSec: 30 * DAY,
    duplicateWindowSec: 3600,
  },
  /** Messages a consumer gave up on (invalid, too large, or failing every time), kept with their reason. */
  deadLetters: {
    name: "MLLEAD_DEAD",
    subjects: ["mllead.dead.>"],
    retention: "limits",
    maxAgeSec: 30 * DAY,
    duplicateWindowSec: 3600,
  },
} as const;

/** Durable consumers (`ConsumerSpec`s of `@mllead/bus`), one per kind of work. `ackWaitSec` can be overridden at provisioning. */
export const CONSUMERS = {
  techLeadCommands: {
    stream: STREAMS.commands.name,
    durable: "tech-lead-commands",
    filterSubject: "mllead.cmd.>",
    ackWaitSec: 30,
    maxDeliver: 20,
    // Many tasks at once; the tech lead keeps each task's messages in order itself.
    maxAckPending: 256,
  },
  techLeadResults: {
    stream: STREAMS.events.name,
    durable: "tech-lead-results",
    filterSubject: "mllead.evt.task.*.step.*.*",
    ackWaitSec: 30,
    maxDeliver: 20,
    maxAckPending: 256,
  },
  gateway: {
    stream: STREAMS.events.name,
    durable: "slack-gateway",
    filterSubject: "mllead.evt.task.>",
    ackWaitSec: 30,
    maxDeliver: 20,
    maxAckPending: 1,
  },
  gpuRunner: {
    stream: STREAMS.gpu.name,
    durable: "gpu-runner",
    filterSubject: "mllead.work.gpu",
    ackWaitSec: 30,
    maxDeliver: 10,
    maxAckPending: 64,
  },
  step: (role: Role) => ({
    stream: STREAMS.steps.name,
    durable: `step-${role}`,
    filterSubject: SUBJECTS.stepWork(role),
    ackWaitSec: 30,
    maxDeliver: 10,
    maxAckPending: 64,
  }),
} as const;

/** KV buckets and the Object Store. */
export const BUCKETS = {
  /** TaskRecord by task id; the tech lead is the only writer (compare-and-swap). */
  tasks: "mllead_tasks",
  /** Slack bookkeeping owned by the gateway: seen events, thread → task, posted messages. */
  slack: "mllead_slack",
  /** Runner heartbeats and inventory, expiring when a runner stops beating. */
  runners: "mllead_runners",
  /** Job claims, so exactly one runner runs a job. */
  jobs: "mllead_jobs",
  /** Task records that did not parse, moved aside by the tech lead with the reason (key `<taskId>.<revision>`). */
  tasksQuarantine: "mllead_tasks_quarantine",
  /** ChannelLessons by channel (`lessonsKey`); the tech lead provisions it and is the only writer. */
  lessons: "mllead_lessons",
  /** Where each task's branch stands (`{ head, base, bundle }` by task id); the specialist replicas write it by compare-and-swap. */
  taskBranches: "mllead_task_branches",
} as const;

/** The Object Store every artifact, job output and worktree snapshot is kept in. */
export const OBJECT_STORE = "mllead_artifacts";

/** Names in `OBJECT_STORE`: one layout for every writer and reader, all under `tasks/<taskId>/`. */
export const OBJECT_KEYS = {
  /** A file a step saved: `tasks/<taskId>/<stepId>/<path>`. */
  stepArtifact: (taskId: string, stepId: string, path: string) => `tasks/${taskId}/${stepId}/${path}`,
  /** A file a GPU job wrote: `tasks/<taskId>/jobs/<jobId>/<name>`. */
  jobArtifact: (taskId: string, jobId: string, name: string) => `tasks/${taskId}/jobs/${jobId}/${name}`,
  /** A snapshot of a step's worktree: `tasks/<taskId>/worktrees/<tree>.tar.gz`. */
  worktree: (taskId: string, tree: string) => `tasks/${taskId}/worktrees/${tree}.tar.gz`,
  /**
   * A git bundle of a task's branch (its commits since the base): `tasks/<taskId>/.branch/<head>.bundle` (a step
   * id never starts with a dot, so no step's artifact can take its name).
   */
  branchBundle: (taskId: string, head: string) => `tasks/${taskId}/.branch/${head}.bundle`,
  /**
   * One uncommitted file a step left for the task's next steps (an ignored data or model file), by content:
   * `tasks/<taskId>/.files/<stepId>-<attempt>/<sha256>`.
   */
  taskFile: (taskId: string, stepRun: string, sha256: string) => `tasks/${taskId}/.files/${stepRun}/${sha256}`,
} as const;

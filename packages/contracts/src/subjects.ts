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
  /** Request/reply for the repository's context before planning, asked by the tech lead, answered by a specialist-agent. */
  scoutQuery: "mllead.q.scout",
  /** `mllead.evt.task.<taskId>.<task|step|job>.[<stepId|jobId>.]<kind>` */
  event: (e: Pick<TaskEvent, "type" | "taskId"> & { stepId?: string; jobId?: string }): string => {
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

export interface StreamSpec {
  name: string;
  subjects: string[];
  retention: "workqueue" | "limits";
  maxAgeSec: number;
  /** How long JetStream remembers a msgID to drop a duplicate publish. */
  duplicateWindowSec: number;
}

export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  /** Seconds before an unacknowledged message is redelivered; handlers extend it with `working()`. */
  ackWaitSec: number;
  maxDeliver: number;
  /**
   * Messages handed out and not yet acknowledged, across all replicas. 1 keeps delivery strictly
   * in order (and lets one slow or failing message hold up every other).
   */
  maxAckPending: number;
}

const DAY = 24 * 3600;

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
} as const satisfies Record<string, StreamSpec>;

/** Durable consumers, one per job to do. `ackWaitSec` can be overridden at provisioning. */
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
  step: (role: Role): ConsumerSpec => ({
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
} as const;

export const OBJECT_STORE = "mllead_artifacts";

import { inSpan } from "@mllead/bus";
import { type Decision, SUBJECTS, TaskDecide } from "@mllead/contracts";
import type { SlackStore } from "../store.js";
import { parseReplyDecision, plainAnswer, type ReplyDecision } from "./approvals.js";
import type { InboundDeps } from "./inbound-deps.js";

/** A person's decision on a task, as the surfaces hand it to the tech lead. */
export interface DecisionInput {
  taskId: string;
  decisionId: string;
  decision: Decision;
  userId: string;
  via: TaskDecide["via"];
  feedback?: string;
  revision?: number;
}

/** Forwards a decision to the tech lead as a `task.decide` command. */
export type Decide = (d: DecisionInput) => Promise<void>;

/** The `decide` of the inbound surfaces: publishes `task.decide` with the decision id as the msgID. */
export function decider(deps: Pick<InboundDeps, "bus" | "log" | "now" | "store">): Decide {
  const now = deps.now ?? (() => new Date());
  return async (d) => {
    const cmd: TaskDecide = {
      v: 1,
      taskId: d.taskId,
      decisionId: d.decisionId,
      decision: d.decision,
      userId: d.userId,
      via: d.via,
      decidedAt: now().toISOString(),
      ...(d.feedback ? { feedback: d.feedback } : {}),
      ...(d.revision !== undefined ? { revision: d.revision } : {}),
    };
    // In the task's trace (kept on its link since the mention): approval, steps and summary join the mention's.
    const trace = (await deps.store.task(d.taskId))?.trace;
    const attributes = { "mllead.task.id": d.taskId, "mllead.decision": d.decision, "mllead.via": d.via };
    await inSpan(`decide ${d.decision}`, { parent: trace, attributes }, () =>
      // The decision id is the msgID: a retried Slack delivery counts once.
      deps.bus.publish(SUBJECTS.taskDecide, TaskDecide, cmd, d.decisionId),
    );
    deps.log.info({ taskId: d.taskId, decision: d.decision, via: d.via }, "decision forwarded to the tech lead");
  };
}

/**
 * A thread reply as a decision: the words of one (`approve`, `changes: …`, `answer: …`), or — while the
 * task's plan has open questions — the whole reply as their answer.
 */
export async function replyDecision(store: SlackStore, taskId: string, text: string): Promise<ReplyDecision | null> {
  const parsed = parseReplyDecision(text);
  if (parsed) return parsed;
  const link = await store.task(taskId);
  return link?.openQuestions ? plainAnswer(text) : null;
}

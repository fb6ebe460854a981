import type { TaskEvent } from "@mllead/contracts";
import type { ArtifactLinker } from "../artifact-links.js";
import { renderPlan } from "../render/plan.js";
import { renderBrainFailed, renderBudgetRaised, renderBudgetReached, renderRetrying } from "../render/questions.js";
import {
  renderApproved,
  renderCancelled,
  renderChangesRequested,
  renderDecisionRejected,
  renderQuestionAnswered,
  renderReplanning,
  renderSummaryStream,
  renderTaskCompleted,
  renderTaskFailed,
} from "../render/task-lines.js";
import type { SlackStore, TaskLink } from "../store.js";
import type { Delivery } from "./deliver.js";
import { type NewItem, post } from "./items.js";
import type { OutboundStore } from "./outbound-store.js";
import { statusItems } from "./status-items.js";
import type { JobEvent, StepEvent } from "./step-items.js";

/** A task's own events (not its steps' or GPU jobs'). */
export type TaskLevelEvent = Exclude<TaskEvent, StepEvent | JobEvent>;

/** What a task's own event posts in its thread: the plan, the decisions, the questions, the summary, the card. */
export async function taskItems(
  event: TaskLevelEvent,
  link: TaskLink,
  deps: { store: Pick<SlackStore, "noteTask">; outbound: OutboundStore<Delivery>; links?: ArtifactLinker | null },
): Promise<NewItem[]> {
  const { store, outbound } = deps;
  const brain = link.brain;
  switch (event.type) {
    case "task.updated":
      return statusItems(event, link, store);
    case "task.planned":
      await store.noteTask(event.taskId, {
        brain: event.plan.brain,
        revision: event.revision,
        openQuestions: event.plan.questions?.length ?? 0,
      });
      await outbound.putPlan({ taskId: event.taskId, revision: event.revision, requester: event.requester, plan: event.plan });
      return [
        post(event.eventId, "person", {
          kind: "post",
          msg: renderPlan(event),
          rememberPlan: { taskId: event.taskId, revision: event.revision },
        }),
      ];
    case "task.decision_rejected":
      return [
        {
          key: event.eventId,
          priority: "person",
          ordered: false,
          coalesce: false,
          payload: { kind: "ephemeral", user: event.userId, msg: renderDecisionRejected(event) },
        },
      ];
    case "task.approved":
      return [post(event.eventId, "person", { kind: "post", msg: renderApproved(event, brain) })];
    case "task.changes_requested":
      // Revising: until the next plan is posted, a plain reply is conversation again.
      if (event.answers) await store.noteTask(event.taskId, { openQuestions: 0 });
      return [post(event.eventId, "person", { kind: "post", msg: renderChangesRequested(event, brain) })];
    case "task.question_answered":
      await store.noteTask(event.taskId, { openQuestions: event.open });
      return [post(event.eventId, "person", { kind: "post", msg: renderQuestionAnswered(event, brain) })];
    case "task.cancelled":
      return [post(event.eventId, "person", { kind: "post", msg: renderCancelled(event, brain) })];
    case "task.replanning":
      return [post(event.eventId, "person", { kind: "post", msg: renderReplanning(event, brain) })];
    case "task.failed":
      return [post(event.eventId, "person", { kind: "post", msg: renderTaskFailed(event, brain) })];
    case "task.brain_failed":
      return [post(event.eventId, "person", { kind: "post", msg: renderBrainFailed(event, brain) })];
    case "task.retrying":
      return [post(event.eventId, "thread", { kind: "post", msg: renderRetrying(event, brain) })];
    case "task.budget_reached":
      return [post(event.eventId, "person", { kind: "post", msg: renderBudgetReached(event, brain) })];
    case "task.budget_raised":
      return [post(event.eventId, "person", { kind: "post", msg: renderBudgetRaised(event, brain) })];
    case "task.completed":
      return [await summaryItem(event, link, outbound, deps.links)];
    default: {
      const never: never = event;
      throw new Error(`unknown event type ${(never as { type?: string }).type}`);
    }
  }
}

/** The summary, streamed to the requester of the newest plan when Slack knows their team. */
async function summaryItem(
  event: Extract<TaskEvent, { type: "task.completed" }>,
  link: TaskLink,
  outbound: OutboundStore<Delivery>,
  links?: ArtifactLinker | null,
): Promise<NewItem> {
  const plan = await outbound.latestPlan(event.taskId, link.revision);
  const { parts, end } = renderSummaryStream(event, links);
  const recipient = plan && link.teamId ? { userId: plan.requester, teamId: link.teamId } : undefined;
  return post(event.eventId, "person", {
    kind: "stream",
    parts,
    end,
    fallback: renderTaskCompleted(event, links),
    ...(recipient ? { recipient } : {}),
  });
}

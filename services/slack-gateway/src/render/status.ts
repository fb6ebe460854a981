import type { BrainKind, StatusReply, StepStatus, TaskState, TaskView } from "@mllead/contracts";
import type { types } from "@slack/bolt";
import type { OutgoingMessage } from "../slack-api.js";
import { context, esc, fallback, section, truncate, withBrain } from "./blocks.js";
import { shortCost, stepCost } from "./cost.js";
import { cardNotes, waitingLine } from "./questions.js";

/** The emoji shown for each task state. */
export const STATE_EMOJI: Record<TaskState, string> = {
  requested: ":inbox_tray:",
  planning: ":thinking_face:",
  awaiting_approval: ":raised_hand:",
  revising: ":pencil2:",
  executing: ":arrows_counterclockwise:",
  reviewing: ":mag:",
  fixing: ":hammer_and_wrench:",
  done: ":white_check_mark:",
  failed: ":x:",
  cancelled: ":no_entry_sign:",
};

/** The emoji shown for each step status on the status card. */
export const STEP_EMOJI: Record<StepStatus, string> = {
  pending: ":white_circle:",
  dispatched: ":hourglass_flowing_sand:",
  running: ":arrows_counterclockwise:",
  completed: ":white_check_mark:",
  failed: ":x:",
  skipped: ":fast_forward:",
};

function stateLabel(state: TaskState): string {
  return state.replace(/_/g, " ");
}

/** `https://slack.com/archives/<channel>/p<ts>`: Slack's permalink form, which redirects into the workspace. */
export function threadLink(view: Pick<TaskView, "slack">): string {
  return `https://slack.com/archives/${view.slack.channel}/p${view.slack.threadTs.replace(".", "")}`;
}

function stepsDone(view: TaskView): string {
  // Skipped steps never ran (the task ended first): they are not "done".
  const done = view.steps.filter((s) => s.status === "completed").length;
  const skipped = view.steps.filter((s) => s.status === "skipped").length;
  return `${done}/${view.steps.length} steps done${skipped ? ` (${skipped} not run)` : ""}`;
}

/** How Slack's task_card shows a step: pending → in_progress → complete (or error). */
export const TASK_CARD_STATUS: Record<StepStatus, "pending" | "in_progress" | "complete" | "error"> = {
  pending: "pending",
  dispatched: "in_progress",
  running: "in_progress",
  completed: "complete",
  failed: "error",
  skipped: "complete",
};

function headline(view: TaskView): string {
  return `${STATE_EMOJI[view.state]} *Status: ${stateLabel(view.state)}*${view.revision > 0 ? ` · plan revision ${view.revision}` : ""}${view.steps.length ? ` · ${stepsDone(view)}` : ""}`;
}

function footer(view: TaskView): types.KnownBlock[] {
  const warning = view.sandboxWarning ? [context(`:warning: ${esc(truncate(view.sandboxWarning, 400))}`)] : [];
  return [
    ...cardNotes(view).map((t) => context(t)),
    ...warning,
    context(`Task \`${view.id}\` · updated ${view.updatedAt.replace("T", " ").replace(/\.\d+Z$/, "Z")}`),
  ];
}

/**
 * The status card drawn with Slack's own agent UI: a `plan` block whose task cards move pending →
 * in_progress → complete as the steps run, edited in place. Before there is a plan, the classic card.
 */
export function renderProgressCard(view: TaskView, brain: BrainKind | undefined): OutgoingMessage {
  if (view.steps.length === 0) return renderStatusCard(view, brain);
  const plan: types.PlanBlock = {
    type: "plan",
    title: truncate(`Plan revision ${view.revision} · ${stepsDone(view)}`, 150),
    tasks: view.steps.map(
      (s): types.TaskCardBlock => ({
        type: "task_card",
        task_id: s.id,
        title: esc(truncate(s.title, 150)),
        status: TASK_CARD_STATUS[s.status],
        details: {
          type: "rich_text",
          elements: [
            {
              type: "rich_text_section",
              elements: [
                { type: "text", text: `${s.role} · ${s.status}${s.attempt > 1 ? ` · attempt ${s.attempt}` : ""}${stepCost(s)}` },
              ],
            },
          ],
        },
      }),
    ),
  };
  const blocks = withBrain([section(headline(view)), plan, ...footer(view)], brain ?? view.brain);
  return { text: fallback(`Status: ${stateLabel(view.state)} — ${truncate(view.text, 200)}`), blocks };
}

/** The one status card per task, edited in place as the task moves (the fallback where Slack refuses the plan block). */
export function renderStatusCard(view: TaskView, brain: BrainKind | undefined): OutgoingMessage {
  const steps = view.steps.length
    ? view.steps
        .map(
          (s) =>
            `${STEP_EMOJI[s.status]} *${esc(s.title)}* · \`${s.role}\` · ${s.status}${s.attempt > 1 ? ` · attempt ${s.attempt}` : ""}${stepCost(s)}`,
        )
        .join("\n")
    : "_No plan yet._";
  const blocks = withBrain([section(headline(view)), section(steps), ...footer(view)], brain ?? view.brain);
  return { text: fallback(`Status: ${stateLabel(view.state)} — ${truncate(view.text, 200)}`), blocks };
}

/** One task on a line: state, what was asked, steps done, its id (for `/mllead cancel`) and a link to its thread. */
export function statusLine(view: TaskView): string {
  const offline = view.brain === "offline" ? " · _offline brain_" : "";
  const sandbox = view.sandboxWarning ? `\n    :warning: _Sandbox:_ ${esc(truncate(view.sandboxWarning, 300))}` : "";
  const waiting = view.waiting ? `\n    ${waitingLine(view.waiting)}` : "";
  return `• ${STATE_EMOJI[view.state]} *${stateLabel(view.state)}* — ${esc(truncate(view.text, 80))} · ${stepsDone(view)}${shortCost(view)} · \`${view.id}\` · <${threadLink(view)}|thread>${offline}${sandbox}${waiting}`;
}

/** The answer to `/mllead status`. */
export function renderStatusReply(reply: StatusReply): string {
  if (!reply.ok) return `The tech lead could not list the tasks: ${reply.error.message}`;
  const parts: string[] = [];
  parts.push(
    reply.active.length
      ? `*Active tasks (${reply.active.length})*\n${reply.active.map(statusLine).join("\n")}`
      : "*No active tasks.* Start one by mentioning @mllead with an ML task.",
  );
  if (reply.recent.length) parts.push(`*Recently finished*\n${reply.recent.map(statusLine).join("\n")}`);
  return truncate(parts.join("\n\n"), 3900);
}

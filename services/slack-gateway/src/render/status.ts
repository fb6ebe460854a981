import type { BrainKind, StatusReply, StepStatus, TaskState, TaskView } from "@mllead/contracts";
import type { OutgoingMessage } from "../slack-api.js";
import { context, esc, fallback, section, truncate, withBrain } from "./blocks.js";

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
  const done = view.steps.filter((s) => s.status === "completed" || s.status === "skipped").length;
  return `${done}/${view.steps.length} steps done`;
}

/** The one status card per task, edited in place as the task moves. */
export function renderStatusCard(view: TaskView, brain: BrainKind | undefined): OutgoingMessage {
  const steps = view.steps.length
    ? view.steps
        .map(
          (s) =>
            `${STEP_EMOJI[s.status]} *${esc(s.title)}* · \`${s.role}\` · ${s.status}${s.attempt > 1 ? ` · attempt ${s.attempt}` : ""}`,
        )
        .join("\n")
    : "_No plan yet._";
  const blocks = withBrain(
    [
      section(
        `${STATE_EMOJI[view.state]} *Status: ${stateLabel(view.state)}*${view.revision > 0 ? ` · plan revision ${view.revision}` : ""}${view.steps.length ? ` · ${stepsDone(view)}` : ""}`,
      ),
      section(steps),
      context(`Task \`${view.id}\` · updated ${view.updatedAt.replace("T", " ").replace(/\.\d+Z$/, "Z")}`),
    ],
    brain ?? view.brain,
  );
  return { text: fallback(`Status: ${stateLabel(view.state)} — ${truncate(view.text, 200)}`), blocks };
}

function statusLine(view: TaskView): string {
  const offline = view.brain === "offline" ? " · _offline brain_" : "";
  return `• ${STATE_EMOJI[view.state]} *${stateLabel(view.state)}* — ${esc(truncate(view.text, 80))} · ${stepsDone(view)} · <${threadLink(view)}|thread>${offline}`;
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

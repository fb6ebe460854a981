import { randomUUID } from "node:crypto";
import { Id, StatusQuery, StatusReply, SUBJECTS, TaskDecide } from "@mllead/contracts";
import { renderAgents, renderJobs } from "../render/commands.js";
import { renderStatusReply } from "../render/status.js";
import type { SlackStore } from "../store.js";
import { readAgents, readJobs, readRunners } from "../workspace-info.js";
import type { CommandDeps, SlashCaller } from "./command-deps.js";
import { answerDead } from "./dead-command.js";
import { answerLessons } from "./lessons-command.js";

/** The sub-commands of `/mllead`, as listed to people. */
export const SLASH_COMMANDS: readonly { name: string; what: string }[] = [
  { name: "status", what: "this channel's tasks and yours: state, steps done, task id, link to the thread" },
  { name: "jobs", what: "GPU jobs of this channel's tasks: queued or running, where, progress" },
  { name: "cancel <task>", what: "cancel a task (its id from `/mllead status`, or a link to its thread)" },
  { name: "agents", what: "the specialists mllead works with: description, tools, model" },
  { name: "lessons", what: "what the tech lead learnt in this channel from corrections; `lessons forget <n>` drops one" },
  { name: "dead", what: "messages set aside after failing (approvers): `dead show|replay|drop <seq>`" },
  { name: "help", what: "how to work with @mllead" },
];

const commandList = SLASH_COMMANDS.map((c) => `• \`/mllead ${c.name}\` — ${c.what}`).join("\n");

/** What `/mllead help` and an empty mention answer. */
export const HELP_TEXT = [
  "*@mllead is your ML team's tech lead.* Mention it with a task, e.g. `@mllead train a churn baseline on the events table`.",
  "It replies in the thread with a plan (steps for the data-engineer, ml-engineer, analyst and code-reviewer).",
  "Approve with the *Approve* button, a :white_check_mark: reaction or a reply `approve`; reply `changes: …` to revise it or `cancel` to stop.",
  "Progress, training jobs, plots, the reviewer's verdict and a summary then appear in the same thread.",
  "On any message, *More actions → Ask @mllead* makes it a task; the app's *Home* tab shows your tasks, the runners and the setup.",
  "",
  `*Commands*\n${commandList}`,
].join("\n");

/** How long `/mllead status` waits for the tech lead (ms): Slack needs the answer within 3 s. */
const STATUS_TIMEOUT_MS = 2000;

/** A task id, or the task of a thread link (`https://…/archives/C…/p1700000000000100`); null when it is neither. */
export async function taskOf(arg: string, store: SlackStore | undefined): Promise<string | null> {
  const link = /archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})/.exec(arg);
  if (link && store) return store.taskForThread(link[1] as string, `${link[2]}.${link[3]}`);
  const id = arg.replace(/^`|`$/g, "");
  return Id.safeParse(id).success ? id : null;
}

async function cancel(arg: string, deps: CommandDeps, caller: SlashCaller): Promise<string> {
  if (!arg) return "Say which task: `/mllead cancel <task id>` (the id is in `/mllead status`), or paste a link to its thread.";
  if (!caller.userId) return "I could not tell who asked; nothing was cancelled.";
  const taskId = await taskOf(arg, deps.store);
  const shown = `\`${arg.slice(0, 60).replace(/[`<>&]/g, "")}\``;
  if (!taskId) return `${shown} is not a task id or a thread link. \`/mllead status\` lists the tasks with their ids.`;
  if (deps.store && !(await deps.store.task(taskId)))
    return `I know no task ${shown}. \`/mllead status\` lists the tasks with their ids.`;
  const decisionId = `slash:${caller.triggerId ?? randomUUID()}`;
  await deps.bus.publish(
    SUBJECTS.taskDecide,
    TaskDecide,
    {
      v: 1,
      taskId,
      decisionId,
      decision: "cancel",
      userId: caller.userId,
      via: "slash",
      decidedAt: (deps.now?.() ?? new Date()).toISOString(),
    },
    decisionId,
  );
  deps.log.info({ taskId, via: "slash" }, "cancel forwarded to the tech lead");
  return `Asked the tech lead to cancel \`${taskId}\`. Its thread will say when it is cancelled; if you may not cancel it, you will be told there.`;
}

/** The text answering `/mllead <text>`. Never throws: every failure becomes a sentence. */
export async function answerSlashCommand(text: string, deps: CommandDeps, caller: SlashCaller = {}): Promise<string> {
  const [first = "", ...rest] = text.trim().split(/\s+/);
  const sub = first.toLowerCase();
  try {
    switch (sub) {
      case "":
      case "help":
        return HELP_TEXT;
      case "status":
        try {
          const query: StatusQuery = {
            v: 1,
            recent: 3,
            ...(caller.channel ? { channel: caller.channel.slice(0, 100) } : {}),
            ...(caller.userId ? { userId: caller.userId.slice(0, 100) } : {}),
          };
          const reply = await deps.bus.request(SUBJECTS.statusQuery, StatusQuery, StatusReply, query, STATUS_TIMEOUT_MS);
          return renderStatusReply(reply);
        } catch (err) {
          deps.log.warn({ err }, "status query failed");
          return "I could not get the status: the tech lead did not answer in time. It may be starting or busy; try again in a moment.";
        }
      case "jobs": {
        const [jobs, runners] = await Promise.all([readJobs(deps.bus, deps.log), readRunners(deps.bus, deps.log)]);
        return renderJobs(jobs, runners, caller.channel, deps.store);
      }
      case "cancel":
        return await cancel(rest.join(" "), deps, caller);
      case "agents":
        return renderAgents(await readAgents(deps.agentsDir));
      case "lessons":
        return await answerLessons(rest, deps, caller);
      case "dead":
        return await answerDead(rest, deps, caller);
      default:
        return `I don't know the command \`${sub.slice(0, 40).replace(/[`<>&]/g, "")}\`. Try one of:\n${commandList}`;
    }
  } catch (err) {
    deps.log.warn({ err, sub }, "a slash command failed");
    return `\`/mllead ${sub.slice(0, 40).replace(/[`<>&]/g, "")}\` failed just now (${(err as Error).message.slice(0, 200).replace(/[<>&]/g, "")}). Please try again in a moment.`;
  }
}
